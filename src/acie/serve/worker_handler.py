"""The counterfactual-job handler for a standalone worker (``acie admin worker``).

``acie serve`` runs a worker thread in the server process; in Kubernetes the workers are
their own Deployment, started as::

    acie admin worker --handler acie.serve.worker_handler:handle \
        --physics-check acie.serve.worker_handler:physics_check

Both functions share one :class:`acie.serve.job_service.JobRunner`, built on first use
from the settings exactly as ``acie serve`` builds its own (shipped model, database,
the served galaxy embedder and its index, :mod:`acie.serve.embedding_index`), so a job
gives the same result whichever process runs it. With the in-memory vector backend each
process holds its own copy of the index, loaded from the database when first used;
vectors another process adds later are searched after a restart (use pgvector for
several worker processes).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping
from typing import Any

from acie.serve.job_service import JobRunner

__all__ = ["handle", "physics_check", "runner"]

_lock = threading.Lock()
_runner: JobRunner | None = None


def runner() -> JobRunner:
    """The job runner of this process (built once, from :func:`acie.config.get_settings`)."""
    global _runner
    with _lock:
        if _runner is None:
            from acie.config import get_settings
            from acie.serve.server import build_runtime

            rt = build_runtime(get_settings())
            # inference threads, audit writer, engine: closed before the interpreter exits
            # (left running, their native threads abort the process at exit)
            atexit.register(rt.close)
            # rt.vector_index is the served galaxy embedder's index (build_runtime)
            _runner = JobRunner(core=rt.core, vector_index=rt.vector_index, queue=rt.job_queue)
        return _runner


def handle(job: Any) -> dict[str, Any]:
    """Run one counterfactual job (the worker's handler)."""
    return runner().handle(job)


def physics_check(job: Any, result: Mapping[str, Any]) -> None:
    """Re-check a job's result against its physics tolerance (the worker's check)."""
    runner().physics_check(job, result)
