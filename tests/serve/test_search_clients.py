"""Search through both SDKs against a live server: by image or by vector, and what made the vectors.

REST (``RestClient.search``) and gRPC (the ``Search`` method, ``GrpcClient.search``)
answer the same hits with the same embedder name, dimension and metric; both take an
image, which the server embeds with the served galaxy embedder, or a vector of that
embedder, and both apply the visibility rules (researchers: own; collaborators: shared).
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from acie.client import GrpcClient, RestClient, RetryPolicy, SearchHits
from acie.embedding.embedder import load_default_embedder
from acie.errors import InputValidationError, ShapeError

EMB = load_default_embedder()
NAME = f"galaxy-embedder:{EMB.version}"
ONCE = RetryPolicy(max_attempts=1)


@pytest.fixture
def indexed(server):
    """Four galaxies of a fresh owner in the served index (0 and 2 shared); (images, ids, owner)."""
    from acie.galaxy.simulator import GalaxySimulator
    from acie.serve.embedding_index import served_for

    images = GalaxySimulator().sample(4, seed=41).images.astype(np.float32)
    owner = f"searcher-{uuid.uuid4().hex[:8]}"
    ids = [uuid.uuid4() for _ in range(4)]
    metas = [{"owner": owner, "shared": i % 2 == 0, "i": i} for i in range(4)]
    served_for(server.runtime).index.add(ids, EMB.embed(images), metas)
    return images, [str(i) for i in ids], owner


def _clients(server, tok):
    return (
        RestClient(server.http_url, token=tok, retry=ONCE),
        GrpcClient(f"127.0.0.1:{server.grpc_port}", token=tok, retry=ONCE),
    )


def test_both_clients_search_by_image_and_by_vector(server, token, indexed):
    images, ids, owner = indexed
    rest, grpc = _clients(server, token(sub=owner))
    with rest, grpc:
        for client in (rest, grpc):
            by_chw = client.search(image=images[1], k=2)
            by_batch = client.search(image=images[1:2], k=2)
            vector = EMB.embed(images[3:4])[0]
            by_vector = client.search(vector, embedder=NAME, k=1)
            legacy = client.search(vector, k=4, filter={"i": {"<": 2}})
            for hits in (by_chw, by_batch, by_vector, legacy):
                assert isinstance(hits, SearchHits)
                assert isinstance(hits, list)  # callers of the hits list keep working
                assert (hits.embedder, hits.dim, hits.metric) == (NAME, 32, "l2")
            assert [h["id"] for h in by_chw] == [h["id"] for h in by_batch]
            assert by_chw[0]["id"] == ids[1]
            assert by_chw[0]["distance"] == pytest.approx(0.0, abs=1e-3)
            assert by_chw[0]["metadata"]["owner"] == owner
            assert [h["id"] for h in by_vector] == [ids[3]]
            assert sorted(h["metadata"]["i"] for h in legacy) == [0, 1]
        rest_hits = rest.search(image=images[2], k=4)
        grpc_hits = grpc.search(image=images[2], k=4)
        assert [h["id"] for h in rest_hits] == [h["id"] for h in grpc_hits]
        assert [h["distance"] for h in rest_hits] == pytest.approx(
            [h["distance"] for h in grpc_hits], abs=1e-5
        )
        assert [h["metadata"] for h in rest_hits] == [h["metadata"] for h in grpc_hits]


def test_both_clients_refuse_what_rest_refuses(server, token, indexed):
    images, _, _ = indexed
    rest, grpc = _clients(server, token())
    with rest, grpc:
        for client in (rest, grpc):
            with pytest.raises(InputValidationError, match="deepscm-encoder:abc") as other:
                client.search(np.zeros(32), embedder="deepscm-encoder:abc")
            assert NAME in str(other.value)
            with pytest.raises(InputValidationError, match="128 numbers"):
                client.search(np.zeros(128))
            with pytest.raises(InputValidationError, match=r"\(3, 64, 64\)"):
                client.search(image=np.ones((1, 16, 16), np.float32))
            with pytest.raises(InputValidationError, match="a vector or an image"):
                client.search(np.zeros(32), image=images[0])
            with pytest.raises(ShapeError, match=r"\(C, H, W\) or \(1, C, H, W\)"):
                client.search(image=images[:2])
            with pytest.raises(InputValidationError, match="INVALID_ARGUMENT"):
                client.search(np.zeros(32), k=0)


def test_grpc_search_applies_roles_and_checks_the_request(server, token, indexed):
    """Visibility as over REST; malformed requests sent past the client are refused."""
    from acie.wire.proto import inference_pb2 as pb

    images, ids, owner = indexed
    q = EMB.embed(images[:1])[0]
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token(sub=owner), retry=ONCE) as c:
        assert sorted(h["id"] for h in c.search(q, k=10)) == sorted(ids)
    collab = token(sub="carol", role="collaborator", scopes=("inference:read",))
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", token=collab, retry=ONCE) as c:
        assert sorted(h["id"] for h in c.search(q, k=10)) == sorted([ids[0], ids[2]])
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token(sub="eve"), retry=ONCE) as c:
        assert c.search(q, k=10) == []  # another researcher's images are not found
        stub, md = c._stub, c._metadata
        bad = {
            "neither": pb.SearchRequest(k=3),
            "filter": pb.SearchRequest(vector=list(q), filter_json="[1"),
            "k": pb.SearchRequest(vector=list(q), k=5000),
            "nan": pb.SearchRequest(vector=[float("nan")] * 32),
        }
        import grpc

        for name, req in bad.items():
            with pytest.raises(grpc.RpcError) as err:
                stub.Search(req, metadata=md, timeout=30)
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, name
