"""Progress push: "job X changed" from the queue to whoever watches X.

Every committed state change of a job calls :meth:`ProgressNotifier.publish` with the
job's id. Watchers (the REST progress WebSocket) hold a :class:`Waiter` per job and
sleep until they are woken, then read the job's events from the database (the truth);
a notification carries no state, so a lost or duplicated one costs at most a read.

* :class:`ProgressNotifier`: in-process, for a worker in the serving process (the
  embedded SQL queue).
* :class:`RedisProgressNotifier`: also publishes each change on a Redis channel
  and, while anyone in this process watches, listens on it, so workers in other
  processes or on other hosts wake the watchers here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

__all__ = ["ProgressNotifier", "RedisProgressNotifier", "Waiter"]

log = logging.getLogger(__name__)


class Waiter:
    """One watcher of one job, woken from any thread, awaited on its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def wake(self) -> None:
        """Wake the watcher (thread-safe)."""
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        """Forget earlier wake-ups (call before reading the job's state)."""
        self._event.clear()

    async def wait(self, timeout: float) -> bool:
        """Sleep until woken or ``timeout`` seconds pass; True if woken."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class ProgressNotifier:
    """In-process fan-out of job changes to the waiters of each job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter]] = {}

    def publish(self, job_id: uuid.UUID | str) -> None:
        """Tell this process' watchers of ``job_id`` that it changed."""
        self.deliver(job_id)

    def deliver(self, job_id: uuid.UUID | str) -> None:
        """Wake the watchers of ``job_id`` in this process."""
        with self._lock:
            waiters = list(self._waiters.get(str(job_id), ()))
        for w in waiters:
            w.wake()

    def watching(self) -> int:
        """Number of waiters registered now."""
        with self._lock:
            return sum(len(v) for v in self._waiters.values())

    def _started_watching(self) -> None:
        """Hook: the first waiter registered (subclasses start listening)."""

    @contextlib.contextmanager
    def subscribe(self, job_id: uuid.UUID | str) -> Iterator[Waiter]:
        """A :class:`Waiter` woken on every change of ``job_id`` (call from an event loop)."""
        waiter = Waiter(asyncio.get_running_loop())
        key = str(job_id)
        with self._lock:
            self._waiters.setdefault(key, set()).add(waiter)
        self._started_watching()
        try:
            yield waiter
        finally:
            with self._lock:
                group = self._waiters.get(key)
                if group is not None:
                    group.discard(waiter)
                    if not group:
                        del self._waiters[key]

    def close(self) -> None:
        """Nothing to release in process."""


class RedisProgressNotifier(ProgressNotifier):
    """A :class:`ProgressNotifier` that also carries changes across processes via Redis.

    Parameters
    ----------
    client : redis.Redis
        A client with ``decode_responses=True`` (the queue's).
    channel : str
        Pub/sub channel; messages are ``"<origin>:<job id>"``, and a process skips its
        own (it has woken its watchers already).
    """

    def __init__(self, client: Any, channel: str) -> None:
        super().__init__()
        self.client = client
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def publish(self, job_id: uuid.UUID | str) -> None:
        """Wake local watchers and publish the change (best effort: watchers re-check anyway)."""
        self.deliver(job_id)
        try:
            self.client.publish(self.channel, f"{self.origin}:{job_id}")
        except Exception as err:  # a notification is advisory; the row is the truth
            log.warning("could not publish progress of job %s: %s", job_id, err)

    def _started_watching(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(
                target=self._listen, name="acie-progress-listener", daemon=True
            )
        self._thread.start()

    def _listen(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                backoff = 0.0
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=1.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    origin, _, job_id = str(msg["data"]).partition(":")
                    if origin != self.origin and job_id:
                        self.deliver(job_id)
            except Exception as err:  # Redis went away: retry, watchers fall back to re-checks
                backoff = min(5.0, max(0.2, 2 * backoff))
                log.warning("progress listener on %s: %s; retrying", self.channel, err)
                self._stop.wait(backoff)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()

    def close(self) -> None:
        """Stop the listener thread."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(3.0)
