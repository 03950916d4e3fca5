"""``POST /v1/datasets`` against the app as ``acie serve`` builds it (REST, worker, WebSocket).

The story of issue 17 in one test: upload a small FITS cube of simulated galaxies with
its CSV catalogue, follow the ingestion job on its progress WebSocket to COMPLETE, find
the uploaded galaxies with ``POST /v1/search`` (by image, under a redshift-window
filter, with their catalogue metadata), then ask for counterfactuals with
``retrieve_k=4``, synchronously and as a job, whose neighbours (the uploaded galaxies)
are listed and named in the audit log. Everything is embedded by the served galaxy
embedder. Bad uploads fail the job (or are refused up front) and leave no staged or
stored file, no vector and no dataset row; the same cube again returns the same dataset
without a new job.
"""

from __future__ import annotations

import base64
import io
import json

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select
from websockets.sync.client import connect as ws_connect

from acie.client import RestClient
from acie.embedding.embedder import load_default_embedder
from acie.serve.embedding_index import served_for
from acie.store.schema import Dataset, Embedding
from acie.wire.tensors import encode_b64
from tests.serve.engine64 import engine64, server64  # noqa: F401 (fixtures)

EMB = load_default_embedder()
SHAPE = EMB.image_shape  # (3, 64, 64): what the served galaxy embedder takes


def _fits_bytes(cube: np.ndarray) -> bytes:
    from astropy.io import fits

    buf = io.BytesIO()
    fits.PrimaryHDU(cube).writeto(buf)
    return buf.getvalue()


def _csv_bytes(n: int, z0: float = 0.0) -> bytes:
    lines = ["id,redshift,ra,dec,survey,instrument"]
    lines += [f"s{i},{z0 + 0.1 * i:.2f},{150 + i},{2 + 0.1 * i},COSMOS,ACS" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def _body(cube: bytes, cat: bytes, **extra) -> dict:
    return {
        "cube": {"filename": "stamps.fits", "data": base64.b64encode(cube).decode()},
        "catalogue": {"filename": "stamps.csv", "data": base64.b64encode(cat).decode()},
        **extra,
    }


def _follow(server, job_id: str, tok: str) -> list[dict]:
    url = f"ws://127.0.0.1:{server.http_port}/v1/jobs/{job_id}/progress?access_token={tok}"
    messages = []
    with ws_connect(url, open_timeout=10) as ws:
        while True:
            msg = json.loads(ws.recv(timeout=60))
            messages.append(msg)
            if msg.get("final"):
                return messages


def _leftovers(server) -> tuple[int, int, list]:
    engine = server.runtime.vector_index.engine
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(Dataset)).scalar_one()
        vecs = conn.execute(select(func.count()).select_from(Embedding)).scalar_one()
    data = server.runtime.settings.ACIE_DATA_DIR
    files = [p for d in ("datasets", "uploads") for p in (data / d).rglob("*") if p.is_file()]
    return int(rows), int(vecs), files


@pytest.fixture
def live(server_factory):
    return server_factory()


def test_upload_search_and_retrieval_augmented_counterfactual(server64, token):  # noqa: F811
    from acie.galaxy.simulator import GalaxySimulator

    live = server64
    alice = token(sub="alice")
    auth = {"Authorization": f"Bearer {alice}"}
    cube = GalaxySimulator().sample(6, seed=5).images.astype(np.float32)
    body = _body(_fits_bytes(cube), _csv_bytes(6))
    served = served_for(live.runtime)
    with httpx.Client(base_url=live.http_url, headers=auth, timeout=60) as c:
        r = c.post("/v1/datasets", json=body)
        assert r.status_code == 202, r.text
        sub = r.json()
        states = [m["state"] for m in _follow(live, sub["job_id"], alice)]
        assert states[-1] == "COMPLETE"
        assert "PROCESSING" in states
        ds = c.get(f"/v1/datasets/{sub['dataset_id']}")
        assert ds.status_code == 200, ds.text
        assert ds.json()["n_images"] == 6
        assert ds.json()["owner"] == "alice"
        assert ds.json()["embedder"] == served.name
        assert ds.json()["searchable"] is True
        # the new vectors, searched near image 3 (sent as an image) within a redshift window
        hits = c.post(
            "/v1/search",
            json={
                "image": encode_b64(cube[3:4]),
                "k": 10,
                "filter": {"redshift": {">=": 0.25, "<=": 0.45}},
            },
        )
        assert hits.status_code == 200, hits.text
        assert hits.json()["embedder"] == served.name
        assert hits.json()["dim"] == EMB.dim
        found = hits.json()["hits"]
        assert sorted(h["metadata"]["catalogue_id"] for h in found) == ["s3", "s4"]
        assert found[0]["metadata"]["catalogue_id"] == "s3"
        assert found[0]["distance"] == pytest.approx(0.0, abs=1e-4)
        assert found[0]["metadata"]["dataset_id"] == sub["dataset_id"]
        assert found[0]["metadata"]["ra"] == pytest.approx(153.0)
        # bob (another researcher) neither reads the dataset nor finds its vectors
        bob = {"Authorization": f"Bearer {token(sub='bob')}"}
        q = EMB.embed(cube[3:4])[0].tolist()
        assert c.get(f"/v1/datasets/{sub['dataset_id']}", headers=bob).status_code == 403
        assert c.post("/v1/search", json={"vector": q, "k": 10}, headers=bob).json()["hits"] == []
        # the same cube again: the same dataset, no new job, nothing added
        again = c.post("/v1/datasets", json=body)
        assert again.status_code == 200, again.text
        assert again.json()["dataset_id"] == sub["dataset_id"]
        assert again.json()["job_id"] is None
    uploaded = {h["id"]: h["metadata"]["catalogue_id"] for h in found}
    # a retrieval-augmented counterfactual of galaxy s3: its neighbours are the uploaded
    # galaxies (itself first, at distance 0), listed and named in the audit log
    rt = live.runtime
    before = rt.audit.audit_log.count()
    iv = {"log_stellar_mass": {"shift": 0.1}}
    with RestClient(live.http_url, token=alice, timeout_s=60) as client:
        answer = client.counterfactual(
            cube[3:4], iv, physics_tolerance=1e9, request_id="story-1", retrieve_k=4
        )
        job = client.submit_job(
            cube[3:4],
            iv,
            physics_tolerance=1e9,
            request_id="story-job",
            retrieve_k=4,
            retrieve_filter={"redshift": {">=": 0.25}},
        )
        from_job = client.wait(job["job_id"], timeout_s=60)
    (row,) = answer.neighbours
    assert len(row) == 4
    assert row[0]["metadata"]["catalogue_id"] == "s3"
    assert row[0]["distance"] == pytest.approx(0.0, abs=1e-4)
    assert [h["distance"] for h in row] == sorted(h["distance"] for h in row)
    assert all(h["metadata"]["dataset_id"] == sub["dataset_id"] for h in row)
    assert answer.retrieval["embedder"] == served.name
    (job_row,) = from_job.neighbours
    assert job_row[0]["metadata"]["catalogue_id"] == "s3"
    assert len(job_row) == 3  # s3, s4, s5: the filter leaves three
    assert all(h["metadata"]["redshift"] >= 0.25 for h in job_row)
    assert uploaded.get(job_row[0]["id"]) == "s3"
    assert from_job.retrieval["k"] == 3
    assert rt.audit.flush()
    audit = list(rt.audit.audit_log.records(after_seq=before))

    def named(action):
        return {i for r in audit if r.action == action for i in (r.resource or "").split(",")}

    assert named("counterfactual.neighbours:OK") == {h["id"] for h in row}
    assert named("job.neighbours:OK") == {h["id"] for h in job_row}
    assert all(r.user_sub == "alice" for r in audit if r.action == "job.neighbours:OK")
    # 6 uploaded vectors, and the job's galaxy once it passed the physics check
    assert _leftovers(live)[:2] == (1, 7)
    data = live.runtime.settings.ACIE_DATA_DIR
    stored = sorted(p.relative_to(data).parts[0] + "/" + p.name for p in _leftovers(live)[2])
    assert stored == ["datasets/catalogue.csv", "datasets/cube.fits"]  # staged upload removed


@pytest.mark.parametrize("case", ["bands", "nan", "length", "oversize"])
def test_bad_upload_leaves_nothing(server_factory, token, case):
    server = server_factory(MAX_DATASET_BYTES=4096) if case == "oversize" else server_factory()
    alice = token(sub="alice")
    b, h, w = SHAPE  # the embedder's, whatever the served model takes
    cube = np.ones((4, b + 1 if case == "bands" else b, h, w), np.float32)
    if case == "nan":
        cube[2, 0, 1, 1] = np.nan
    body = _body(_fits_bytes(cube), _csv_bytes(3 if case == "length" else 4))
    with httpx.Client(
        base_url=server.http_url, headers={"Authorization": f"Bearer {alice}"}, timeout=60
    ) as c:
        r = c.post("/v1/datasets", json=body)
        if case == "oversize":
            assert r.status_code == 400, r.text
            assert "MAX_DATASET_BYTES = 4096" in r.json()["error"]["message"]
        else:
            assert r.status_code == 202, r.text
            final = _follow(server, r.json()["job_id"], alice)[-1]
            assert final["state"] == "FAILED"
            assert final["error"]["code"] == "INVALID_ARGUMENT"
            expected = {"bands": f"{b}-band images", "nan": "NaN", "length": "one row per image"}
            assert expected[case] in final["error"]["message"]
    assert _leftovers(server) == (0, 0, [])


def test_upload_needs_the_submit_role(live, token):
    viewer = token(sub="carol", scopes=("inference:read",))
    body = _body(b"x", b"y")
    with httpx.Client(base_url=live.http_url, timeout=30) as c:
        assert c.post("/v1/datasets", json=body).status_code == 401
        r = c.post("/v1/datasets", json=body, headers={"Authorization": f"Bearer {viewer}"})
        assert r.status_code == 403


def test_corrected_catalogue_after_a_failure_and_another_users_copy(live, token):
    alice, bob = token(sub="alice"), token(sub="bob")
    cube = _fits_bytes(np.ones((3, *SHAPE), np.float32))
    with httpx.Client(base_url=live.http_url, timeout=60) as c:
        first = c.post(
            "/v1/datasets",
            json=_body(cube, _csv_bytes(2)),
            headers={"Authorization": f"Bearer {alice}"},
        )
        assert _follow(live, first.json()["job_id"], alice)[-1]["state"] == "FAILED"
        fixed = c.post(
            "/v1/datasets",
            json=_body(cube, _csv_bytes(3)),
            headers={"Authorization": f"Bearer {alice}"},
        )
        assert fixed.status_code == 202, fixed.text
        assert fixed.json()["job_id"] != first.json()["job_id"]
        assert _follow(live, fixed.json()["job_id"], alice)[-1]["state"] == "COMPLETE"
        # bob's copy of alice's (unshared) cube: refused, nothing about her dataset shown
        other = c.post(
            "/v1/datasets",
            json=_body(cube, _csv_bytes(3)),
            headers={"Authorization": f"Bearer {bob}"},
        )
        assert other.status_code == 409, other.text
        assert fixed.json()["dataset_id"] not in other.text
    assert _leftovers(live)[:2] == (1, 3)
    assert not (live.runtime.settings.ACIE_DATA_DIR / "uploads").exists() or not any(
        (live.runtime.settings.ACIE_DATA_DIR / "uploads").iterdir()
    )
