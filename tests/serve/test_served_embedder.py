"""Everything served embeds with the galaxy embedder; what another embedder made is refused.

Against the app as ``acie serve`` builds it (the tiny deep SCM of conftest; the shipped
galaxy embedder, 32-d): a 128-d deep-SCM feature vector, a request naming another
embedder, an index whose stored vectors have another dimension, and a dataset ingested
by another embedder are each refused with :class:`EmbedderMismatchError` naming both.
"""

from __future__ import annotations

import uuid

import httpx
import numpy as np
import pytest

from acie.embedding.embedder import load_default_embedder

EMB = load_default_embedder()
NAME = f"galaxy-embedder:{EMB.version}"


def _auth(tok):
    return {"Authorization": f"Bearer {tok}"}


def test_the_server_opens_the_served_index_itself(server):
    """One index: the runtime's is the galaxy embedder's, not one of deep-SCM features."""
    from acie.serve.embedding_index import served_for, served_of
    from acie.store.schema import Model

    rt = server.runtime
    served = served_for(rt)
    assert served.index is rt.vector_index
    assert rt.vector_index.model_id == served.model_id
    assert served.name == NAME
    assert served.describe()["dim"] == 32
    with rt.vector_index.engine.connect() as conn:
        names = {r[0] for r in conn.execute(Model.__table__.select().with_only_columns(Model.name))}
    assert "galaxy-deepscm" not in names  # no deep-SCM feature index is opened
    from acie.store.vectors.memory import MemoryVectorIndex

    assert served_of(MemoryVectorIndex(dim=32)) is None  # any other index is not served


def test_search_refuses_a_deepscm_feature_vector(server, token):
    """Servers used to index the shipped deep SCM's 128 encoder features: such a query is refused."""
    q = np.random.default_rng(0).normal(size=128).tolist()
    with httpx.Client(base_url=server.http_url, headers=_auth(token()), timeout=30) as c:
        r = c.post("/v1/search", json={"vector": q, "k": 3})
    assert r.status_code == 400, r.text
    msg = r.json()["error"]["message"]
    assert NAME in msg
    assert "128 numbers" in msg
    assert "32-d" in msg


def test_search_refuses_a_vector_of_another_named_embedder(server, token):
    with httpx.Client(base_url=server.http_url, headers=_auth(token()), timeout=30) as c:
        r = c.post(
            "/v1/search",
            json={"vector": [0.0] * 32, "embedder": "deepscm-encoder:abc", "k": 3},
        )
    assert r.status_code == 400, r.text
    msg = r.json()["error"]["message"]
    assert "deepscm-encoder:abc" in msg
    assert NAME in msg


def test_search_answers_which_embedder_made_the_vectors(server, token):
    """A galaxy's own image finds its vector at distance 0; the answer names the embedder."""
    from acie.galaxy.simulator import GalaxySimulator
    from acie.serve.embedding_index import served_for

    images = GalaxySimulator().sample(5, seed=31).images.astype(np.float32)
    served = served_for(server.runtime)
    ids = [uuid.uuid4() for _ in range(5)]
    served.index.add(ids, EMB.embed(images), [{"owner": "alice", "i": i} for i in range(5)])
    from acie.wire.tensors import encode_b64

    with httpx.Client(base_url=server.http_url, headers=_auth(token()), timeout=30) as c:
        by_image = c.post("/v1/search", json={"image": encode_b64(images[2:3]), "k": 2})
        by_vector = c.post(
            "/v1/search",
            json={"vector": EMB.embed(images[2:3])[0].tolist(), "embedder": NAME, "k": 2},
        )
        both = c.post("/v1/search", json={"k": 2})
    assert by_image.status_code == 200, by_image.text
    body = by_image.json()
    assert body["embedder"] == NAME
    assert body["dim"] == 32
    assert body["metric"] == "l2"
    assert body["hits"][0]["id"] == str(ids[2])
    assert body["hits"][0]["distance"] == pytest.approx(0.0, abs=1e-4)
    assert by_vector.json()["hits"][0]["id"] == str(ids[2])
    assert both.status_code == 400
    assert "vector or an image" in both.json()["error"]["message"]


def test_an_index_of_another_dimension_is_refused(tmp_path):
    """Vectors of another dimension stored under the embedder's registry row: refused."""
    from acie.serve.embedding_index import EmbedderMismatchError, served_embedding
    from acie.store.database import create_engine_for, migrate
    from acie.store.embedder_index import register_embedder
    from acie.store.vectors.embeddings import insert_embeddings

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine_for(url)
    migrate(url, engine=engine)
    mid = register_embedder(engine, EMB)
    insert_embeddings(engine, mid, 128, [uuid.uuid4()], np.zeros((1, 128), np.float32), [{}], [{}])
    with pytest.raises(EmbedderMismatchError, match="128-d") as info:
        served_embedding(engine, settings=None, embedder=EMB)
    assert NAME in str(info.value)
    assert "acie index build" in str(info.value)
    engine.dispose()


def test_a_server_on_such_an_index_says_why_search_is_unavailable(
    server_factory, settings_factory, token, tmp_path
):
    """``acie serve`` on a database whose stored vectors another-sized embedder made starts
    (counterfactuals still work) and answers search 503 with the reason and the fix."""
    from acie.store.database import create_engine_for, migrate
    from acie.store.embedder_index import register_embedder
    from acie.store.vectors.embeddings import insert_embeddings

    settings = settings_factory()
    url = settings.ACIE_DATABASE_URL
    engine = create_engine_for(url)
    migrate(url, engine=engine)
    mid = register_embedder(engine, EMB)
    insert_embeddings(engine, mid, 128, [uuid.uuid4()], np.zeros((1, 128), np.float32), [{}], [{}])
    engine.dispose()
    server = server_factory(settings=settings)
    with httpx.Client(base_url=server.http_url, headers=_auth(token()), timeout=30) as c:
        r = c.post("/v1/search", json={"vector": [0.0] * 32, "k": 1})
    assert r.status_code == 503, r.text
    msg = r.json()["error"]["message"]
    assert "128-d" in msg
    assert "acie index build" in msg


@pytest.mark.parametrize("path", ["/v1/counterfactual", "/v1/jobs"])
def test_retrieve_k_for_images_the_embedder_does_not_take(
    server, token, tensor_json, make_obs, path
):
    """The tiny model takes (1, 16, 16) images; the embedder (3, 64, 64): refused, both named."""
    body = {
        "request_id": "r-shape",
        "observation": tensor_json(make_obs(1)),
        "interventions": {},
        "retrieve_k": 2,
    }
    with httpx.Client(base_url=server.http_url, headers=_auth(token()), timeout=30) as c:
        r = c.post(path, json=body)
    assert r.status_code == 400, r.text
    msg = r.json()["error"]["message"]
    assert NAME in msg
    assert "(3, 64, 64)" in msg
    assert "(1, 16, 16)" in msg


def test_a_dataset_embedded_by_the_old_deepscm_index_is_refused_not_hidden(
    server, token, tiny_engine, tmp_path
):
    """A dataset ingested before the switch (deep-SCM encoder features in the deep SCM's
    index): re-uploading it is refused naming both embedders and the rebuild command,
    and reading it says its vectors are not searched."""
    import base64
    import io

    from astropy.io import fits

    from acie.store.datasets import ingest_dataset
    from acie.store.registry import ensure_model
    from acie.store.vectors import open_vector_index

    rt = server.runtime
    cube = np.random.default_rng(3).gamma(2.0, 10.0, size=(3, *tiny_engine.image_shape))
    # the deep SCM's index, as servers opened and filled it before
    engine = rt.vector_index.engine
    mid = ensure_model(engine, "galaxy-deepscm", tiny_engine.model_version, {})
    dim = int(np.asarray(tiny_engine.encoder_features(cube[:1].astype(np.float32))).shape[1])
    old = open_vector_index(rt.settings, model_id=mid, dim=dim, engine=engine)
    buf = io.BytesIO()
    fits.PrimaryHDU(cube.astype(np.float32)).writeto(buf)
    csv = "id,redshift,ra,dec,survey,instrument\n" + "".join(
        f"o{i},0.1,10,0,HSC,HSC\n" for i in range(3)
    )
    (tmp_path / "c.fits").write_bytes(buf.getvalue())
    (tmp_path / "c.csv").write_text(csv)
    info = ingest_dataset(
        engine=old.engine,
        cube_path=tmp_path / "c.fits",
        catalogue_path=tmp_path / "c.csv",
        data_dir=rt.settings.ACIE_DATA_DIR,
        image_shape=tiny_engine.image_shape,
        embed=tiny_engine.encoder_features,
        index=old,
        model_id=old.model_id,
        max_bytes=10**8,
        owner="alice",
    )
    body = {
        "cube": {"filename": "c.fits", "data": base64.b64encode(buf.getvalue()).decode()},
        "catalogue": {"filename": "c.csv", "data": base64.b64encode(csv.encode()).decode()},
    }
    deepscm = f"galaxy-deepscm:{tiny_engine.model_version}"
    with httpx.Client(base_url=server.http_url, headers=_auth(token()), timeout=30) as c:
        again = c.post("/v1/datasets", json=body)
        shown = c.get(f"/v1/datasets/{info.id}")
    assert again.status_code == 400, again.text
    msg = again.json()["error"]["message"]
    assert deepscm in msg
    assert NAME in msg
    assert "acie index build" in msg
    assert shown.status_code == 200, shown.text
    assert shown.json()["embedder"] == deepscm
    assert shown.json()["searchable"] is False
