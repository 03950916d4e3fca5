"""Whether a Redis server keeps what it acknowledged: its append-only file (AOF).

A job the API accepted is promised to survive a Redis restart only if Redis logs
each write to its AOF. Without AOF a restart loses every stream entry (the reconciler
re-enqueues unfinished jobs from the database, but ordering and pending state go).
:func:`check_redis_durability` asks the server (``CONFIG GET appendonly``) when a
queue is opened: strict environments (``ACIE_ENV`` production or staging) refuse a
Redis without AOF, the others log a warning.
"""

from __future__ import annotations

import logging
from typing import Any

from acie.errors import ConfigurationError

__all__ = ["check_redis_durability"]

log = logging.getLogger(__name__)


def check_redis_durability(client: Any, url: str, *, strict: bool) -> dict[str, str]:
    """Check that the Redis behind ``client`` runs with ``appendonly yes``.

    Parameters
    ----------
    client : redis.Redis
    url : str
        For messages.
    strict : bool
        Refuse (production, staging) instead of warning.

    Returns
    -------
    dict
        ``appendonly`` and ``appendfsync`` as the server reports them (``"?"`` when it
        does not allow ``CONFIG GET``).

    Raises
    ------
    ConfigurationError
        ``strict`` and AOF is off, or the server does not say whether it is on.
    """
    import redis

    try:
        got = client.config_get("append*")
        cfg = {k: str(got.get(k, "?")) for k in ("appendonly", "appendfsync")}
    except redis.exceptions.ResponseError as err:  # CONFIG renamed or not allowed
        cfg = {"appendonly": "?", "appendfsync": "?"}
        log.debug("CONFIG GET refused by %s: %s", url, err)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as err:
        # unreachable now: the queue raises BackendUnavailableError on first use
        log.warning("Redis at %s cannot be reached to check its persistence: %s", url, err)
        return {"appendonly": "?", "appendfsync": "?"}
    if cfg["appendonly"] == "yes":
        if cfg["appendfsync"] == "no":
            log.warning(
                "Redis at %s writes its AOF but leaves fsync to the OS (appendfsync no): "
                "acknowledged jobs can be lost on power loss; use appendfsync always",
                url,
            )
        return cfg
    what = (
        "does not say whether its append-only file is on (CONFIG GET refused)"
        if cfg["appendonly"] == "?"
        else "runs without an append-only file (appendonly no)"
    )
    message = (
        f"Redis at {url} {what}: a restart would lose every queued job's stream entry; "
        f"expected appendonly yes (redis-server --appendonly yes --appendfsync always)"
    )
    if strict:
        raise ConfigurationError(f"ACIE_ENV refuses a job queue on it: {message}")
    log.warning("%s", message)
    return cfg
