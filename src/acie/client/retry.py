"""Retries with exponential backoff for the client SDK.

Only RESOURCE_EXHAUSTED (rate or queue limit; not HTTP 413, too large) and UNAVAILABLE
(server down, shutting down, or not reachable) are retried: they say "try again
later". Every other error is final. The wait before attempt ``k`` (k = 1, 2, …) is
``min(max_backoff_s, initial_backoff_s * multiplier**(k-1))`` times a random factor in
``[1 - jitter, 1 + jitter]``, and at least the server's ``Retry-After`` when it sends one.

:func:`wait_until_available` is the other kind of patience: for a server that is still
starting (connection refused, NOT_SERVING), poll until it answers or a deadline passes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from acie.errors import BackendUnavailableError, ConfigurationError, RateLimitError

__all__ = ["RETRYABLE", "RetryPolicy", "wait_until_available"]

T = TypeVar("T")

#: error classes that are retried
RETRYABLE: tuple[type[BaseException], ...] = (RateLimitError, BackendUnavailableError)


@dataclass(kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Parameters
    ----------
    max_attempts : int
        Attempts in all (1 = no retry).
    initial_backoff_s, max_backoff_s : float
        First and largest wait, seconds.
    multiplier : float
        Growth of the wait per attempt.
    jitter : float
        Relative spread of the random factor, in [0, 1).
    seed : int or None
        Seed of the jitter's random generator (reproducible waits).
    sleep : callable
        Waits a number of seconds (injectable for tests).
    """

    max_attempts: int = 5
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.2
    seed: int | None = None
    sleep: Callable[[float], None] = time.sleep
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be >= 1; got {self.max_attempts!r}")
        if not 0 <= self.jitter < 1:
            raise ConfigurationError(f"jitter must be in [0, 1); got {self.jitter!r}")
        if self.initial_backoff_s < 0 or self.max_backoff_s < self.initial_backoff_s:
            raise ConfigurationError(
                "backoffs must satisfy 0 <= initial_backoff_s <= max_backoff_s; got "
                f"{self.initial_backoff_s!r}, {self.max_backoff_s!r}"
            )
        self._rng = random.Random(self.seed)

    def backoff(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (attempt - 1))
        wait = base * self._rng.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after_s is not None:
            wait = max(wait, min(float(retry_after_s), self.max_backoff_s))
        return wait

    def call(
        self,
        fn: Callable[[], T],
        *,
        on_retry: Callable[[int, BaseException, float], None] | None = None,
    ) -> T:
        """Call ``fn`` until it succeeds, fails with a final error, or attempts run out."""
        attempt = 1
        while True:
            try:
                return fn()
            except RETRYABLE as exc:
                if attempt >= self.max_attempts or not getattr(exc, "retryable", True):
                    raise
                wait = self.backoff(attempt, getattr(exc, "retry_after_s", None))
                if on_retry is not None:
                    on_retry(attempt, exc, wait)
                self.sleep(wait)
                attempt += 1


def wait_until_available(
    fn: Callable[[], T],
    *,
    wait_s: float,
    poll_s: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``fn`` until it stops raising :class:`BackendUnavailableError`, for ``wait_s`` at most.

    Parameters
    ----------
    fn : callable
        One attempt (for example one health check).
    wait_s : float
        Seconds to keep trying.
    poll_s : float
        Seconds between attempts.
    sleep, clock : callable
        Injectable for tests.

    Raises
    ------
    BackendUnavailableError
        Still unavailable when ``wait_s`` seconds have passed (the last error is chained).
    """
    deadline = clock() + wait_s
    while True:
        try:
            return fn()
        except BackendUnavailableError as exc:
            remaining = deadline - clock()
            if remaining <= 0:
                raise BackendUnavailableError(
                    f"{exc} (still unavailable after waiting {wait_s:g} s)"
                ) from exc
            sleep(min(poll_s, remaining))
