"""An ingestion's per-batch progress on its job's WebSocket, with the app as ``acie serve`` builds it.

600 images are embedded 256 at a time: 3 batches. The watcher sees progress messages
(``{"progress": {"done", "total": 3, "unit": "batches"}}``) whose count only grows and
reaches 3 of 3 before the job's final COMPLETE message.
"""

from __future__ import annotations

import base64
import io
import json

import httpx
import numpy as np
from websockets.sync.client import connect as ws_connect


def _fits_bytes(cube: np.ndarray) -> bytes:
    from astropy.io import fits

    buf = io.BytesIO()
    fits.PrimaryHDU(cube).writeto(buf)
    return buf.getvalue()


def _csv_bytes(n: int) -> bytes:
    lines = ["id,redshift,ra,dec,survey,instrument"]
    lines += [f"p{i},{0.001 * i:.3f},{10 + 0.01 * i},{-5},HSC,HSC" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def test_ingest_progress_grows_batch_by_batch_on_the_socket(server_factory, token):
    from acie.embedding.embedder import load_default_embedder

    # 600 stamps of the served galaxy embedder's shape (3, 64, 64): 29 MB of float32
    server = server_factory(MAX_REQUEST_BYTES=64 * 1024 * 1024)
    alice = token(sub="alice")
    shape = load_default_embedder().image_shape
    cube = np.random.default_rng(8).gamma(2.0, 10.0, size=(600, *shape))
    body = {
        "cube": {
            "filename": "c.fits",
            "data": base64.b64encode(_fits_bytes(cube.astype(np.float32))).decode(),
        },
        "catalogue": {"filename": "c.csv", "data": base64.b64encode(_csv_bytes(600)).decode()},
    }
    with httpx.Client(
        base_url=server.http_url, headers={"Authorization": f"Bearer {alice}"}, timeout=60
    ) as c:
        r = c.post("/v1/datasets", json=body)
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
    url = f"ws://127.0.0.1:{server.http_port}/v1/jobs/{job_id}/progress?access_token={alice}"
    messages = []
    with ws_connect(url, open_timeout=10) as ws:
        while not (messages and messages[-1].get("final")):
            messages.append(json.loads(ws.recv(timeout=120)))
    assert messages[-1]["state"] == "COMPLETE", messages[-1]
    steps = [m["progress"] for m in messages if "progress" in m]
    assert steps, f"no progress message among {messages}"
    assert all(s["total"] == 3 and s["unit"] == "batches" for s in steps)
    done = [s["done"] for s in steps]
    assert done == sorted(set(done)), done  # strictly increasing
    assert done[0] >= 1
    assert done[-1] == 3
    # progress comes after the job started processing, and before the final message
    first = next(i for i, m in enumerate(messages) if "progress" in m)
    assert "PROCESSING" in [m.get("state") for m in messages[:first]]
