"""`acie compute`: a local Dask cluster, and the options heavy commands share to use one.

``--scheduler`` (or ``DASK_SCHEDULER_ADDRESS``) sends a command's tasks to a Dask
scheduler; ``--workers`` uses local processes instead. See docs/scaling.md.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from acie.errors import InputValidationError, expected_got

app = typer.Typer(
    help="Distributed computing: a local Dask cluster for the heavy science.",
    no_args_is_help=True,
)

SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler address (tcp://host:8786); default: DASK_SCHEDULER_ADDRESS, "
        "else this machine.",
        show_default=False,
    ),
]
WorkersOpt = Annotated[
    int, typer.Option(help="Local worker processes when no scheduler is set (1: in-process).")
]


@contextmanager
def scan_executor(scheduler: str | None, workers: int, label: str) -> Iterator:
    """The executor of a command (progress bar on a terminal); closed on exit."""
    from acie.compute.executor import resolve_executor

    if workers < 1:
        raise InputValidationError(expected_got("--workers", "an integer >= 1", workers))
    ex = resolve_executor(scheduler, workers, progress=label if sys.stderr.isatty() else None)
    try:
        yield ex
    finally:
        ex.close()


@app.command("local-cluster")
def local_cluster(
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    threads: Annotated[int, typer.Option(help="Threads per worker.")] = 1,
    memory_limit: Annotated[
        str, typer.Option(help="Memory limit per worker, e.g. 2GiB ('auto': share of RAM).")
    ] = "auto",
    port: Annotated[int, typer.Option(help="Scheduler port (0: any free port).")] = 8786,
    host: Annotated[str, typer.Option(help="Interface the scheduler listens on.")] = "127.0.0.1",
    dashboard: Annotated[
        str | None, typer.Option(help="Dashboard address, e.g. :8787 (default: none).")
    ] = None,
    stop_after: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds (default: run until interrupted)."),
    ] = None,
) -> None:
    """Start a Dask scheduler and worker processes here; print the address to use."""
    from acie.compute.cluster import start_local_cluster

    if workers < 1 or threads < 1:
        raise InputValidationError(
            expected_got("--workers and --threads", "integers >= 1", (workers, threads))
        )
    cluster = start_local_cluster(
        workers,
        threads_per_worker=threads,
        memory_limit=memory_limit,
        host=host,
        scheduler_port=port,
        dashboard_address=dashboard,
    )
    try:
        typer.echo(f"scheduler: {cluster.scheduler_address}")
        typer.echo(f"workers: {workers} processes x {threads} thread(s)")
        typer.echo(
            f"use: --scheduler {cluster.scheduler_address}  or  "
            f"export DASK_SCHEDULER_ADDRESS={cluster.scheduler_address}"
        )
        sys.stdout.flush()
        deadline = None if stop_after is None else time.monotonic() + stop_after
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()
