"""Per-user rate limits: a token bucket in memory (embedded) or in Redis (production).

Each user owns a bucket of ``per_minute`` tokens that refills continuously at
``per_minute / 60`` tokens per second; a request takes one token. An empty bucket
raises :class:`~acie.errors.RateLimitError` whose message says how long to wait; the
same number is on the exception as ``retry_after_s`` (seconds) for the
``Retry-After`` header.

The Redis limiter runs the same algorithm atomically in a Lua script, so several
server processes share one limit per user.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Protocol

from acie.errors import BackendUnavailableError, ConfigurationError, RateLimitError

__all__ = [
    "AddressLimits",
    "MemoryRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "open_rate_limiter",
]


def _refused(key: str, per_minute: int, wait_s: float) -> RateLimitError:
    return RateLimitError(
        f"rate limit of {per_minute} requests per minute exceeded for {key!r}; "
        f"retry after {wait_s:.2f} s",
        retry_after_s=wait_s,
    )


class RateLimiter(Protocol):
    """Take one request token for ``key`` or raise :class:`RateLimitError`."""

    per_minute: int

    def hit(self, key: str) -> None:
        """Take one token from ``key``'s bucket; :class:`RateLimitError` when it is empty."""
        ...


class MemoryRateLimiter:
    """Token buckets in this process (thread-safe).

    Parameters
    ----------
    per_minute : int
        Bucket size and refill per minute, requests.
    clock : callable
        Monotonic clock in seconds (injectable for tests).
    max_keys : int
        Most buckets kept (memory bound); beyond it full buckets, then the oldest, go.
    """

    def __init__(self, *, per_minute: int, clock=time.monotonic, max_keys: int = 100_000) -> None:
        if per_minute < 1:
            raise ConfigurationError(f"per_minute must be >= 1; got {per_minute!r}")
        self.per_minute = per_minute
        self.max_keys = max_keys
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Take one token from ``key``'s bucket; :class:`RateLimitError` when it is empty."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise _refused(key, self.per_minute, (1.0 - tokens) / self._rate)
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:
                self._prune(now)

    def peek(self, key: str) -> None:
        """Raise :class:`RateLimitError` if ``key``'s bucket is empty; take nothing."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self._rate)
            if tokens < 1.0:
                raise _refused(key, self.per_minute, (1.0 - tokens) / self._rate)

    def _prune(self, now: float) -> None:
        """Drop full buckets (they hold no state); if still too many, the oldest half."""
        full = [
            k
            for k, (t, s) in self._buckets.items()
            if t + (now - s) * self._rate >= self.per_minute
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) > self.max_keys:  # many distinct keys at once: a spoofing flood
            for k in list(self._buckets)[: len(self._buckets) // 2]:
                del self._buckets[k]


# KEYS[1] bucket key; ARGV: capacity, rate per second, now (s), ttl (s).
# Returns {allowed (0/1), wait seconds * 1000}.
_LUA_BUCKET = """
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {allowed, math.ceil(wait * 1000)}
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every server process.

    Parameters
    ----------
    url : str
        Redis URL (``redis://host:port/db``).
    per_minute : int
        Bucket size and refill per minute, requests.
    prefix : str
        Key prefix of the buckets.
    """

    def __init__(self, *, url: str, per_minute: int, prefix: str = "acie:ratelimit:") -> None:
        import redis

        if per_minute < 1:
            raise ConfigurationError(f"per_minute must be >= 1; got {per_minute!r}")
        self.per_minute = per_minute
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA_BUCKET)

    def hit(self, key: str) -> None:
        """Take one token from ``key``'s bucket in Redis (atomically, in a Lua script).

        Raises
        ------
        RateLimitError
            The bucket is empty; ``retry_after_s`` says when it holds a token again.
        BackendUnavailableError
            Redis cannot be reached.
        """
        import redis

        ttl = max(2, math.ceil(60.0 * 2))
        try:
            allowed, wait_ms = self._script(
                keys=[self.prefix + key],
                args=[self.per_minute, self.per_minute / 60.0, time.time(), ttl],
            )
        except redis.RedisError as exc:
            raise BackendUnavailableError(
                f"rate-limit store at Redis is unreachable: {exc}"
            ) from exc
        if not int(allowed):
            raise _refused(key, self.per_minute, int(wait_ms) / 1000.0)

    def close(self) -> None:
        """Close the Redis connection pool."""
        self._redis.close()


def open_rate_limiter(*, per_minute: int, redis_url: str | None = None) -> RateLimiter:
    """Redis limiter when ``redis_url`` is given, else the in-memory one."""
    if redis_url:
        return RedisRateLimiter(url=redis_url, per_minute=per_minute)
    return MemoryRateLimiter(per_minute=per_minute)


class AddressLimits:
    """The limits that apply before a token is verified, per client address (this process).

    Two token buckets per address: every request to an authenticated route takes one
    from the first (``per_minute``); every failed authentication takes one from the
    second (``failures_per_minute``), and while that one is empty the address is refused
    before its token is even parsed. Both answer RESOURCE_EXHAUSTED (429) with
    ``retry_after_s``. In memory, per process: an attacker's flood must not reach Redis.

    Parameters
    ----------
    per_minute : int
        Requests per minute per address (``ADDRESS_RATE_LIMIT_PER_MINUTE``).
    failures_per_minute : int
        Failed authentications per minute per address (``AUTH_FAILURES_PER_MINUTE``).
    """

    def __init__(self, *, per_minute: int, failures_per_minute: int) -> None:
        self.requests = MemoryRateLimiter(per_minute=per_minute)
        self.failures = MemoryRateLimiter(per_minute=failures_per_minute)

    def request(self, address: str | None) -> None:
        """Take a request token for ``address`` (:class:`RateLimitError` when none is left)."""
        key = address or "unknown"
        try:
            self.requests.hit(key)
        except RateLimitError as exc:
            raise RateLimitError(
                f"too many requests from {key}: at most {self.requests.per_minute} per minute "
                f"(ADDRESS_RATE_LIMIT_PER_MINUTE); retry after {exc.retry_after_s or 0.0:.2f} s",
                retry_after_s=exc.retry_after_s,
            ) from None

    def may_authenticate(self, address: str | None) -> None:
        """Refuse ``address`` while its failed authentications are over the limit."""
        key = address or "unknown"
        try:
            self.failures.peek(key)
        except RateLimitError as exc:
            raise RateLimitError(
                f"too many failed authentications from {key}: at most "
                f"{self.failures.per_minute} per minute (AUTH_FAILURES_PER_MINUTE); "
                f"retry after {exc.retry_after_s or 0.0:.2f} s",
                retry_after_s=exc.retry_after_s,
            ) from None

    def failed(self, address: str | None) -> None:
        """Count one failed authentication from ``address``."""
        with contextlib.suppress(RateLimitError):
            self.failures.hit(address or "unknown")
