"""Redis Streams primitives of the job queue: error translation, the group, paged claims.

Kept apart from :mod:`acie.jobs.redis_queue` (which ties the stream to the ``jobs``
rows) because these speak only to Redis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from acie.errors import BackendUnavailableError

__all__ = ["claim_idle", "create_group", "is_nogroup", "redis_errors"]


@contextlib.contextmanager
def redis_errors(url: str) -> Iterator[None]:
    """Turn "cannot reach Redis" into :class:`~acie.errors.BackendUnavailableError`."""
    import redis

    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as err:
        raise BackendUnavailableError(f"Redis at {url} cannot be reached: {err}") from err
    except redis.exceptions.BusyLoadingError as err:  # pragma: no cover - timing dependent
        raise BackendUnavailableError(f"Redis at {url} is loading its data: {err}") from err


def is_nogroup(err: BaseException) -> bool:
    """Whether ``err`` is Redis' NOGROUP (the stream or its group is gone: data lost)."""
    import redis

    return isinstance(err, redis.exceptions.ResponseError) and "NOGROUP" in str(err)


def create_group(client: Any, stream: str, group: str, url: str) -> None:
    """Create consumer ``group`` on ``stream`` (and the stream), reading from the start.

    An existing group is left as it is.
    """
    import redis

    with redis_errors(url):
        try:
            client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise


def claim_idle(
    client: Any, stream: str, group: str, consumer: str, min_idle_ms: int, url: str
) -> list[Any]:
    """Claim one entry idle at least ``min_idle_ms`` for ``consumer``; [] if there is none.

    ``XAUTOCLAIM … COUNT 1`` looks at no more than ten pending entries per call and
    returns a cursor; following the cursor until it comes back to ``0-0`` finds a dead
    worker's entry however many live ones are older.

    Returns
    -------
    list of (entry id, fields)
        At most one entry; fields are None for an entry deleted from the stream.
    """
    cursor = "0-0"
    while True:
        with redis_errors(url):
            claimed: Any = client.xautoclaim(
                stream, group, consumer, min_idle_time=min_idle_ms, start_id=cursor, count=1
            )
        if not claimed:
            return []
        cursor, entries = str(claimed[0]), claimed[1]
        if entries:
            return list(entries)
        if cursor in ("0-0", "0"):
            return []
