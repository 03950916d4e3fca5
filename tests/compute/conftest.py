"""A real Dask cluster of worker processes for the compute tests (2 workers × 1 thread).

Each worker has a small memory limit (400 MiB: ~110 MiB of it is the imported science),
so a scan whose whole η matrix exceeds it must be chunked to complete.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

MEMORY_LIMIT = 400 * 2**20


@pytest.fixture(scope="session")
def cluster():
    from acie.compute.cluster import start_local_cluster

    with start_local_cluster(2, memory_limit=MEMORY_LIMIT) as c:
        yield c


@pytest.fixture
def client(cluster):
    from distributed import Client

    with Client(cluster, set_as_default=False) as cl:
        cl.wait_for_workers(2, timeout=60)
        yield cl


@pytest.fixture
def dask_executor(client):
    from acie.compute.executor import DaskExecutor

    return DaskExecutor(client=client)


def worker_pids(client) -> dict[str, int]:
    """Process id of every worker, by address."""
    return client.run(os.getpid)


def kill_one_worker(client) -> int:
    """SIGKILL one worker process (its nanny starts a new one); return the killed pid."""
    pid = sorted(worker_pids(client).values())[0]
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_for_two_workers(client, killed: int) -> None:
    """Until the nanny has replaced the killed worker (so later tests see 2 workers)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pids = set(worker_pids(client).values())
        except Exception:  # a worker is just restarting
            pids = set()
        if len(pids) == 2 and killed not in pids:
            return
        time.sleep(0.2)
    raise AssertionError("the killed worker was not replaced within 60 s")


def killing_after_first(executor, client, killed: list[int]):
    """``map_tasks`` that kills one worker as soon as the first result has arrived."""

    def run(fn, items, /, **common):
        for i, r in enumerate(executor(fn, items, **common)):
            if i == 0:
                killed.append(kill_one_worker(client))
            yield r

    return run


@pytest.fixture
def faults():
    """The fault helpers above, for tests (conftest modules are not importable)."""
    import types

    return types.SimpleNamespace(
        worker_pids=worker_pids,
        kill_one_worker=kill_one_worker,
        wait_for_two_workers=wait_for_two_workers,
        killing_after_first=killing_after_first,
    )
