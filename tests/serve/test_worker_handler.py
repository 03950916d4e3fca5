"""A standalone worker (`acie admin worker` with acie.serve.worker_handler, as the Kubernetes
worker Deployment runs it) finishes a job submitted to an API server that runs no worker,
with the same answer the server gives synchronously."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

from acie.galaxy.simulator import GalaxySimulator


def test_kubernetes_worker_command_runs_a_served_job(
    settings_factory, tensor_json, token, tmp_path
):
    from acie.serve.server import Server, build_runtime

    settings = settings_factory(PHYSICS_STEPS=5)
    rt = build_runtime(settings)  # the shipped model, as `acie serve` loads it
    srv = Server(rt, run_worker=False).start()
    try:
        obs = GalaxySimulator().sample(1, seed=31).images.astype(np.float32)
        body = {
            "request_id": "standalone-1",
            "observation": tensor_json(obs),
            "interventions": {"log_stellar_mass": 10.5},
            "physics_tolerance": 1e9,
        }
        auth = {"Authorization": f"Bearer {token()}"}
        with httpx.Client(base_url=srv.http_url, headers=auth, timeout=60) as c:
            r = c.post("/v1/jobs", json=body)
            assert r.status_code == 202, r.text
            job_id = r.json()["job_id"]
            assert c.get(f"/v1/jobs/{job_id}").json()["state"] == "QUEUED"
            env = {
                **os.environ,
                "ACIE_DATA_DIR": str(settings.ACIE_DATA_DIR),
                "ACIE_DATABASE_URL": settings.database_url,
                "JWT_SECRET": settings.JWT_SECRET.get_secret_value(),
                "PHYSICS_STEPS": "5",
            }
            env.pop("REDIS_URL", None)
            cmd = [
                str(Path(sys.executable).with_name("acie")), "admin", "worker",
                "--handler", "acie.serve.worker_handler:handle",
                "--physics-check", "acie.serve.worker_handler:physics_check",
                "--max-jobs", "1", "--idle-exit", "60",
            ]  # fmt: skip
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
            assert done.returncode == 0, done.stderr[-2000:]
            view = c.get(f"/v1/jobs/{job_id}").json()  # the worker exits after the job
            assert view["state"] == "COMPLETE", (view, done.stderr[-2000:])
            sync = c.post("/v1/counterfactual", json={**body, "request_id": "sync-1"}).json()
        result = view["result"]
        assert result["model_version"] == rt.model_version
        assert result["counterfactual"]["shape"] == [1, *rt.model.image_shape]
        np.testing.assert_allclose(
            result["factual_properties"]["log_stellar_mass"],
            sync["factual_properties"]["log_stellar_mass"],
            rtol=1e-5,
        )
    finally:
        srv.stop(grace_s=0.5)
