"""One executor for heavy science: in this process, in local processes, or on Dask.

Every backend is called the same way, ``executor(fn, items, **common)``, and yields
``fn(item, **common)`` for each item **in the order of** ``items``. ``common`` holds the
large objects every task needs (bands, a form-factor table, distributions): the process
backend pickles them with each task, the Dask backend scatters them to every worker once.
Science functions take such a callable as ``map_tasks`` and never import Dask; they
decide the tasks (and their seeds) themselves, so a result is bit-identical whatever the
backend and the number of workers.

On Dask, tasks are submitted with ``retries`` so that a task whose worker died is rerun
elsewhere (the scheduler also reschedules it by itself while its worker's nanny restarts
the process); results are fetched in order and released as soon as they are yielded, so
a scan never needs more memory on a worker than a few tasks' results.
"""

from __future__ import annotations

import abc
import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from acie.errors import BackendUnavailableError, InputValidationError, expected_got

__all__ = ["DaskExecutor", "Executor", "ProcessExecutor", "SerialExecutor", "resolve_executor"]


class _Common:
    """The shared keyword arguments of a map, as one object (Dask scatters it whole)."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs


def _apply(item: Any, *, fn: Callable[..., Any], common: _Common) -> Any:
    return fn(item, **common.kwargs)


class Executor(abc.ABC):
    """Base class: ``executor(fn, items, **common)`` yields results in item order.

    Parameters
    ----------
    progress : str or None
        Label of a tqdm bar on stderr over the tasks (``None``: no bar).
    """

    name = "executor"
    n_workers = 1

    def __init__(self, *, progress: str | None = None) -> None:
        self.progress = progress

    def __call__(self, fn: Callable[..., Any], items: Iterable[Any], /, **common: Any):
        """Run ``fn(item, **common)`` for every item; yield the results in item order."""
        items = list(items)
        results = self._imap(fn, items, _Common(common))
        if self.progress is None:
            yield from results
            return
        from tqdm import tqdm

        with tqdm(total=len(items), desc=self.progress, unit="task", file=sys.stderr) as bar:
            for r in results:
                bar.update(1)
                yield r

    def map(self, fn: Callable[..., Any], items: Iterable[Any], /, **common: Any) -> list[Any]:
        """The results of :meth:`__call__` as a list."""
        return list(self(fn, items, **common))

    @abc.abstractmethod
    def _imap(self, fn: Callable[..., Any], items: list[Any], common: _Common) -> Iterator[Any]:
        """The backend's own mapping: results in item order."""

    def describe(self) -> str:
        """One line for reports: backend and workers."""
        return f"{self.name}, {self.n_workers} worker(s)"

    def close(self) -> None:  # noqa: B027 - a no-op default: the serial backend holds nothing
        """Release the backend's resources (processes, connections)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Every task in this process, one after the other."""

    name = "in-process"

    def _imap(self, fn, items, common):
        for item in items:
            yield fn(item, **common.kwargs)


class ProcessExecutor(Executor):
    """Tasks over ``n_workers`` local processes (:class:`concurrent.futures.ProcessPoolExecutor`).

    Parameters
    ----------
    n_workers : int
        Processes (>= 1).
    progress : str or None
        As for :class:`Executor`.
    """

    name = "local processes"

    def __init__(self, n_workers: int, *, progress: str | None = None) -> None:
        super().__init__(progress=progress)
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise InputValidationError(expected_got("workers", "an integer >= 1", n_workers))
        self.n_workers = n_workers
        self._pool: ProcessPoolExecutor | None = None

    def _imap(self, fn, items, common):
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.n_workers)
        yield from self._pool.map(functools.partial(_apply, fn=fn, common=common), items)

    def close(self) -> None:
        """Shut the process pool down."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Tasks on a Dask distributed cluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``tcp://host:8786``); ignored when ``client`` is given.
    client : distributed.Client, optional
        An existing client (not closed by :meth:`close`).
    retries : int
        Reruns of a task that failed, e.g. because its worker died.
    progress : str or None
        As for :class:`Executor`.

    Raises
    ------
    BackendUnavailableError
        If no scheduler answers at ``address`` within ``timeout`` seconds.
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Any = None,
        retries: int = 3,
        timeout: float = 10.0,
        progress: str | None = None,
    ) -> None:
        super().__init__(progress=progress)
        from distributed import Client

        self._own = client is None
        if client is None:
            try:
                client = Client(address, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise BackendUnavailableError(
                    expected_got("Dask scheduler", f"one answering at {address!r}", str(exc))
                ) from None
        self.client = client
        self.retries = int(retries)

    @property
    def n_workers(self) -> int:  # type: ignore[override]
        """Workers the scheduler knows now."""
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def describe(self) -> str:
        """One line for reports: scheduler address and workers."""
        return f"dask at {self.client.scheduler.address}, {self.n_workers} worker(s)"

    def _imap(self, fn, items, common):
        shared = self.client.scatter(common, broadcast=True, hash=False)
        futures = self.client.map(
            _apply, items, fn=fn, common=shared, pure=False, retries=self.retries
        )
        try:
            for i, fut in enumerate(futures):
                yield fut.result()
                futures[i] = None  # release the result on the worker
                fut.release()
        finally:
            self.client.cancel([f for f in futures if f is not None])
            shared.release()

    def close(self) -> None:
        """Close the client if this executor opened it."""
        if self._own:
            self.client.close()


def resolve_executor(
    scheduler: str | None = None,
    workers: int = 1,
    *,
    settings: Any = None,
    progress: str | None = None,
) -> Executor:
    """The executor for a command: ``scheduler``, else ``DASK_SCHEDULER_ADDRESS``, else local.

    Parameters
    ----------
    scheduler : str, optional
        Dask scheduler address (``--scheduler``); wins over the setting.
    workers : int
        Local processes when no scheduler is set (1: in this process).
    settings : acie.config.Settings, optional
        Defaults to :func:`acie.config.get_settings`.
    progress : str or None
        Label of a progress bar over the tasks.

    Returns
    -------
    Executor
    """
    if settings is None:
        from acie.config import get_settings

        settings = get_settings()
    address = scheduler or settings.DASK_SCHEDULER_ADDRESS
    if address:
        return DaskExecutor(address, progress=progress)
    if workers == 1:
        return SerialExecutor(progress=progress)
    return ProcessExecutor(workers, progress=progress)
