"""``retrieve_k`` and metadata filters on the REST and gRPC counterfactual (issue 17).

The neighbours come from the served galaxy embedder's index
(:mod:`acie.serve.embedding_index`), which takes (3, 64, 64) stamps: the server here
serves the tiny untrained deep SCM on that shape (``tests/serve/engine64.py``).
"""

from __future__ import annotations

import uuid

import httpx
import numpy as np
import pytest

from acie.client import GrpcClient, RestClient
from acie.errors import BackendUnavailableError, InputValidationError
from acie.serve.embedding_index import served_for
from tests.serve.engine64 import engine64, server64  # noqa: F401 (fixtures)


def _auth(tok):
    return {"Authorization": f"Bearer {tok}"}


@pytest.fixture
def server(server64):  # noqa: F811
    return server64


@pytest.fixture
def galaxies():
    """``galaxies(n, seed)``: simulated (n, 3, 64, 64) stamps in nanomaggies per pixel."""
    from acie.galaxy.simulator import GalaxySimulator

    return lambda n, seed=0: GalaxySimulator().sample(n, seed=seed).images.astype(np.float32)


@pytest.fixture
def filled(server, galaxies):
    """The served index with 12 of alice's galaxies at redshifts 0.01..0.12 (+1 of bob's)."""
    served = served_for(server.runtime)
    images = galaxies(13, seed=42)
    ids = [uuid.uuid4() for _ in range(13)]
    metas = [
        {"owner": "alice" if i < 12 else "bob", "shared": False, "redshift": 0.01 * (i + 1)}
        for i in range(13)
    ]
    served.index.add(ids, served.embed(images), metas)
    return images, [str(i) for i in ids], metas


def test_rest_neighbours_within_the_filter_and_audited(server, token, tensor_json, filled):
    images, ids, _ = filled
    body = {
        "request_id": "ret-1",
        "observation": tensor_json(images[:2]),
        "interventions": {"log_stellar_mass": {"shift": 0.1}},
        "physics_tolerance": 1e9,
        "retrieve_k": 3,
        "retrieve_filter": {"redshift": {">=": 0.005, "<=": 0.065}},
    }
    rt = server.runtime
    before = rt.audit.audit_log.count()
    with httpx.Client(base_url=server.http_url, timeout=30) as c:
        r = c.post("/v1/counterfactual", json=body, headers=_auth(token()))
    assert r.status_code == 200, r.text
    nb = r.json()["neighbours"]
    assert len(nb) == 2
    for i, row in enumerate(nb):
        assert len(row) == 3
        assert row[0]["id"] == ids[i]  # the galaxy itself is in the index: distance ~0
        assert row[0]["distance"] == pytest.approx(0.0, abs=1e-4)
        assert [h["distance"] for h in row] == sorted(h["distance"] for h in row)
        assert all(0.005 <= h["metadata"]["redshift"] <= 0.065 for h in row)
        assert all(h["metadata"]["owner"] == "alice" for h in row)  # bob's is not visible
    # the shipped refiner was trained on deep-SCM encoder features, not the galaxy embedder's
    info = r.json()["retrieval"]
    assert info["k"] == 3
    assert info["refined"] is False
    assert "provenance only" in info["note"]
    assert info["embedder"] == served_for(rt).name
    assert info["metric"] == "l2"
    assert rt.audit.flush()
    rows = list(rt.audit.audit_log.records(after_seq=before))
    named = {i for row in rows if row.action == "counterfactual.neighbours:OK"
             for i in (row.resource or "").split(",")}  # fmt: skip
    assert named == {h["id"] for row in nb for h in row}


def test_grpc_neighbours(server, token, filled):
    images, ids, _ = filled
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token()) as c:
        ans = c.counterfactual(
            images[3:4],
            {"log_stellar_mass": 10.5},
            physics_tolerance=1e9,
            retrieve_k=2,
            retrieve_filter={"redshift": {">": 0.035}},
        )
    assert len(ans.neighbours) == 1
    assert ans.retrieval["refined"] is False
    # what made the neighbours' vectors, as REST's retrieval says
    assert ans.retrieval["embedder"] == served_for(server.runtime).name
    assert ans.retrieval["metric"] == "l2"
    assert ans.neighbours[0][0]["id"] == ids[3]
    assert all(h["metadata"]["redshift"] > 0.035 for h in ans.neighbours[0])


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"retrieve_k": 17}, "retrieve_k"),
        ({"retrieve_k": -1}, "retrieve_k"),
        ({"retrieve_k": True}, "retrieve_k"),
        ({"retrieve_k": 16, "n": 17}, "256"),
        ({"retrieve_k": 2, "retrieve_filter": {"redshift": {"~": 1}}}, "retrieve_filter"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/counterfactual", "/v1/jobs"])
def test_bad_retrieval_requests(server, token, tensor_json, galaxies, extra, fragment, path):
    """The same checks (``check_retrieval``) on requests and jobs; no job is queued."""
    extra = dict(extra)
    n = extra.pop("n", 1)
    body = {
        "request_id": "ret-bad",
        "observation": tensor_json(galaxies(1).repeat(n, axis=0)),
        "interventions": {},
        **extra,
    }
    with httpx.Client(base_url=server.http_url, timeout=30) as c:
        r = c.post(path, json=body, headers=_auth(token()))
        jobs = c.get("/v1/jobs", headers=_auth(token())).json()["jobs"]
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]["message"]
    assert jobs == []


def test_no_index_is_unavailable(server, token, galaxies):
    server.runtime.vector_index, saved = None, server.runtime.vector_index
    try:
        with (
            GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token()) as c,
            pytest.raises(BackendUnavailableError, match="index"),
        ):
            c.counterfactual(galaxies(1), {}, retrieve_k=2)
    finally:
        server.runtime.vector_index = saved


def test_grpc_bad_filter_json(server, token, galaxies):
    with (
        GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token()) as c,
        pytest.raises(InputValidationError),
    ):
        c.counterfactual(galaxies(1), {}, retrieve_k=2, retrieve_filter={"redshift": {"~": 1}})


@pytest.fixture(scope="module")
def shipped_engine():
    from acie.deepscm.engine import load_default_model

    return load_default_model()


@pytest.mark.slow
def test_shipped_refiner_refines_without_moving_flux(server_factory, shipped_engine, token):
    """With the shipped model, when the shipped refiner fits the served embedder: the images
    change at high frequency only (band fluxes kept to float32 rounding), the properties do not."""
    from acie.galaxy.simulator import GalaxySimulator

    server = server_factory(model=shipped_engine)
    rt = server.runtime
    sim = GalaxySimulator()
    bank = sim.sample(24, seed=10000).images
    served = served_for(rt)
    served.index.add(
        [uuid.uuid4() for _ in range(len(bank))],
        served.embed(bank),
        [{"owner": "alice", "shared": False, "redshift": 0.05} for _ in range(len(bank))],
    )
    query = sim.sample(2, seed=20001).images
    iv = {"log_stellar_mass": {"factor": 2.0}}
    with RestClient(server.http_url, token=token(), timeout_s=60) as c:
        plain = c.counterfactual(query, iv, physics_tolerance=1e9, request_id="p")
        aug = c.counterfactual(query, iv, physics_tolerance=1e9, request_id="a", retrieve_k=4)
    from acie.deepscm.retrieval_refiner import load_default_refiner

    refiner = load_default_refiner()
    if refiner.embedder != served.name:
        # a refiner trained on another embedder's features: provenance only, said so
        assert aug.retrieval["refined"] is False
        assert refiner.embedder in aug.retrieval["note"]
        np.testing.assert_array_equal(aug.images, plain.images)
        return
    assert aug.retrieval["refined"] is True, aug.retrieval
    assert aug.retrieval["refiner_version"] == refiner.version
    assert [len(row) for row in aug.neighbours] == [4, 4]
    assert not np.allclose(aug.images, plain.images)
    np.testing.assert_allclose(
        aug.images.sum(axis=(2, 3)), plain.images.sum(axis=(2, 3)), rtol=1e-3, atol=0.5
    )
    for k, v in plain.counterfactual_properties.items():
        np.testing.assert_array_equal(aug.counterfactual_properties[k], v)
    assert rt.model.watermark.detect(aug.images).all()


def test_job_neighbours_are_the_owners_and_listed_in_the_job(server, token, filled):
    """A job's neighbours follow its owner's visibility (bob's galaxy 12 is never one),
    are kept in the job's result (``GET /v1/jobs/{id}``) and named in the audit log."""
    images, ids, _ = filled
    rt = server.runtime
    before = rt.audit.audit_log.count()
    with RestClient(server.http_url, token=token(), timeout_s=60) as c:
        job = c.submit_job(
            images[11:13], {}, physics_tolerance=1e9, request_id="job-ret", retrieve_k=2
        )
        done = c.wait(job["job_id"], timeout_s=60)
        view = c.job(job["job_id"])
    assert [len(row) for row in done.neighbours] == [2, 2]
    assert done.neighbours[0][0]["id"] == ids[11]
    assert ids[12] not in {h["id"] for row in done.neighbours for h in row}
    assert view["result"]["neighbours"] == [
        [{"id": h["id"], "distance": h["distance"], "metadata": h["metadata"]} for h in row]
        for row in done.neighbours
    ]
    assert view["result"]["retrieval"]["embedder"] == served_for(rt).name
    rows = [
        r for r in rt.audit.audit_log.records(after_seq=before) if r.action == "job.neighbours:OK"
    ]
    assert {i for r in rows for i in r.resource.split(",")} == {
        h["id"] for row in done.neighbours for h in row
    }
    assert {r.request_id for r in rows} == {"job-ret"}
