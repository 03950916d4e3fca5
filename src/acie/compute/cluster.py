"""A local Dask cluster of worker processes, tuned for numpy-heavy science tasks.

Dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which fixes glibc's
mmap threshold at 128 KiB: every array above it is then mmap-ed and page-faulted afresh,
and a halo scan task ran 3× slower in a worker than in a plain process (measured: 3.4 s
against 1.0 s for the same 16 tasks). :data:`WORKER_ENVIRON` restores glibc's own
dynamic limits (mmap threshold 32 MiB, trim threshold twice that); workers of a remote
cluster should be started with the same variables (docs/scaling.md).
"""

from __future__ import annotations

from typing import Any

__all__ = ["WORKER_ENVIRON", "start_local_cluster"]

WORKER_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": 2**25, "MALLOC_TRIM_THRESHOLD_": 2**26}


def start_local_cluster(
    n_workers: int = 2,
    *,
    threads_per_worker: int = 1,
    memory_limit: str | int = "auto",
    host: str = "127.0.0.1",
    scheduler_port: int = 0,
    dashboard_address: str | None = None,
) -> Any:
    """Start a ``distributed.LocalCluster`` of worker processes (close it when done).

    Parameters
    ----------
    n_workers, threads_per_worker : int
        Worker processes and threads in each.
    memory_limit : str or int
        Per worker, e.g. ``"2GiB"`` or bytes; ``"auto"`` shares the machine's memory.
    host : str
        Interface of the scheduler and workers.
    scheduler_port : int
        0 picks a free port.
    dashboard_address : str, optional
        e.g. ``":8787"``; ``None``: no dashboard.

    Returns
    -------
    distributed.LocalCluster
    """
    import dask
    from distributed import LocalCluster

    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()}
    # without a dashboard the scheduler still serves its HTTP routes (health, metrics),
    # by default on port 8787: a free port instead, so a second cluster (another test
    # run, a cluster already started here) does not collide with the first
    quiet = {"dashboard": False, "dashboard_address": f"{host}:0"}
    with dask.config.set(environ):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            memory_limit=memory_limit,
            host=host,
            scheduler_port=scheduler_port,
            dashboard_address=dashboard_address,
            scheduler_kwargs=quiet if dashboard_address is None else None,
        )
