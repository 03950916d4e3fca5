"""``acie index jobs``: finished jobs' images embedded again into the served index, owners kept.

Two researchers finish jobs on a live server (alice's private, bob's shared); their
vectors are then removed, as for jobs that finished while the deep SCM's features were
indexed. ``acie index jobs`` embeds the stored observations again with the job's id,
owner and sharing, so each researcher finds their own images, a collaborator only the
shared ones, and a second run adds nothing.
"""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import delete, func, select

from acie.client import RestClient
from acie.store.schema import Embedding
from tests.serve.engine64 import engine64, server64  # noqa: F401 (fixtures)

LOOSE = 1e9


def _invoke(*args):
    from typer.testing import CliRunner

    from acie.cli.main import app

    return CliRunner().invoke(app, list(map(str, args)))


def test_index_jobs_restores_finished_jobs_with_owner_and_sharing(
    server64,  # noqa: F811
    token,
    monkeypatch,
):
    from acie.config import get_settings
    from acie.galaxy.simulator import GalaxySimulator
    from acie.serve import job_service
    from acie.serve.auth import Principal, Role
    from acie.serve.embedding_index import served_embedding

    server = server64
    images = GalaxySimulator().sample(4, seed=17).images.astype(np.float32)
    jobs = {}
    for who, obs, shared in (("alice", images[:2], False), ("bob", images[2:], True)):
        with RestClient(server.http_url, token=token(sub=who)) as c:
            sub = c.submit_job(obs, {}, physics_tolerance=LOOSE, request_id="j", shared=shared)
            c.wait(sub["job_id"])
            jobs[who] = sub["job_id"]
    engine = server.runtime.vector_index.engine
    with engine.begin() as conn:  # the jobs' vectors are gone (indexed by another embedder)
        conn.execute(delete(Embedding))
    settings = server.runtime.settings
    monkeypatch.setenv("ACIE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ACIE_DATA_DIR", str(settings.ACIE_DATA_DIR))
    monkeypatch.setenv("VECTOR_BACKEND", "auto")
    get_settings.cache_clear()
    try:
        first = _invoke("index", "jobs", "--json")
        again = _invoke("index", "jobs", "--json")
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.splitlines()[-1]) == {
        "jobs": 2,
        "added": 4,
        "already": 0,
        "skipped": 0,
    }
    assert json.loads(again.output.splitlines()[-1])["added"] == 0
    assert json.loads(again.output.splitlines()[-1])["already"] == 2
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Embedding)).scalar_one() == 4

    served = served_embedding(engine, settings=settings)  # as a restarted server opens it

    def seen(sub: str, role: Role) -> list[tuple[str, str, bool, int]]:
        who = Principal(subject=sub, role=role, scopes=frozenset())
        hits = job_service.search(served.index, who, served.embed(images[:1])[0], k=10, where=None)
        return sorted(
            (h["metadata"]["owner"], h["metadata"]["job_id"], h["metadata"]["shared"],
             h["metadata"]["image"])
            for h in hits
        )  # fmt: skip

    assert seen("alice", Role.researcher) == [("alice", jobs["alice"], False, i) for i in (0, 1)]
    assert seen("bob", Role.researcher) == [("bob", jobs["bob"], True, i) for i in (0, 1)]
    assert seen("carol", Role.collaborator) == [("bob", jobs["bob"], True, i) for i in (0, 1)]
    hit = job_service.search(
        served.index,
        Principal(subject="alice", role=Role.researcher, scopes=frozenset()),
        served.embed(images[1:2])[0],
        k=1,
        where=None,
    )[0]
    assert hit["distance"] < 1e-3  # the same image, embedded again
    assert "log_stellar_mass" in hit["metadata"]  # the factual properties, as the worker stores
