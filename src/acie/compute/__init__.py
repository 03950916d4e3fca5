"""Where heavy science runs: in this process, in local processes, or on a Dask cluster.

:func:`~acie.compute.cluster.start_local_cluster` starts a local cluster tuned for numpy work.

:func:`~acie.compute.executor.resolve_executor` picks the backend (``--scheduler``, then
``DASK_SCHEDULER_ADDRESS``, then ``--workers``); every backend's ``map`` has the same
ordered, deterministic contract, so results do not depend on where they were computed.
Dask is imported only by the Dask backend.
"""

from __future__ import annotations

from acie.compute.executor import (
    DaskExecutor,
    Executor,
    ProcessExecutor,
    SerialExecutor,
    resolve_executor,
)

__all__ = ["DaskExecutor", "Executor", "ProcessExecutor", "SerialExecutor", "resolve_executor"]
