"""Token-bucket rate limits: in memory (embedded) and in Redis (production)."""

from __future__ import annotations

import pytest

from acie.errors import ConfigurationError, RateLimitError
from acie.serve.ratelimit import MemoryRateLimiter, RedisRateLimiter, open_rate_limiter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_memory_bucket_allows_the_limit_then_refuses_with_retry_after():
    clock = Clock()
    rl = MemoryRateLimiter(per_minute=60, clock=clock)
    for _ in range(60):
        rl.hit("alice")
    with pytest.raises(RateLimitError) as info:
        rl.hit("alice")
    # one token refills in 60 s / 60 = 1 s (exact: the clock did not move)
    assert info.value.retry_after_s == pytest.approx(1.0, abs=1e-9)
    assert "60 requests per minute" in str(info.value)
    rl.hit("bob")  # buckets are per user


def test_memory_bucket_refills_continuously():
    clock = Clock()
    rl = MemoryRateLimiter(per_minute=60, clock=clock)
    for _ in range(60):
        rl.hit("a")
    clock.t += 0.5
    with pytest.raises(RateLimitError) as info:
        rl.hit("a")
    assert info.value.retry_after_s == pytest.approx(0.5, abs=1e-9)
    clock.t += 0.5
    rl.hit("a")  # exactly one token back after 1 s
    clock.t += 3600
    for _ in range(60):  # refill is capped at the bucket size
        rl.hit("a")
    with pytest.raises(RateLimitError):
        rl.hit("a")


def test_bad_limit_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        MemoryRateLimiter(per_minute=0)


def test_factory_picks_memory_without_redis():
    assert isinstance(open_rate_limiter(per_minute=5), MemoryRateLimiter)


@pytest.mark.redis
def test_redis_bucket_is_shared_between_limiters(redis_url, unique_name):
    a = RedisRateLimiter(url=redis_url, per_minute=3, prefix=f"{unique_name}:")
    b = RedisRateLimiter(url=redis_url, per_minute=3, prefix=f"{unique_name}:")
    try:
        a.hit("alice")
        b.hit("alice")
        a.hit("alice")
        with pytest.raises(RateLimitError) as info:
            b.hit("alice")  # the second process sees the first one's requests
        # refill is 3/60 per second: the next token is at most 20 s away
        assert 0 < info.value.retry_after_s <= 20.0
        b.hit("bob")
    finally:
        a._redis.delete(f"{unique_name}:alice", f"{unique_name}:bob")
        a.close()
        b.close()
