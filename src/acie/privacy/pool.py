"""A pool of precomputed Paillier randomness ``r^n mod n²``, each value used once.

Encrypting or re-randomising with only the public key costs one exponentiation
``r^n mod n²`` (about 8 ms for a 2048-bit key), independent of the plaintext. A
:class:`RandomnessPool` computes these ahead of time (idle time, a background thread)
so that the request path only multiplies.

Never reusing randomness:

* :meth:`RandomnessPool.take` removes the value it returns, under a lock.
* A pool refuses to be pickled or copied, so it cannot be shipped to another process.
* A pool remembers the process id that filled it; in a forked child it discards every
  inherited value (``os.register_at_fork``) and starts empty, so parent and child can
  never hand out the same value.
* When the pool is empty, :meth:`take` computes a fresh value (and counts a miss).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from typing import Any

import gmpy2
from gmpy2 import mpz

from acie.errors import CryptoError, InputValidationError
from acie.privacy.paillier import PaillierPrivateKey, PaillierPublicKey

__all__ = ["RandomnessPool"]

_LIVE_POOLS: weakref.WeakSet[RandomnessPool] = weakref.WeakSet()


def _clear_after_fork() -> None:
    for pool in list(_LIVE_POOLS):
        pool._discard_inherited()


os.register_at_fork(after_in_child=_clear_after_fork)


class RandomnessPool:
    """Precomputed ``r^n mod n²`` values for one public key.

    Parameters
    ----------
    public_key : PaillierPublicKey
        Key whose randomness is pooled.
    private_key : PaillierPrivateKey, optional
        If given (key holder), values are computed by CRT, several times faster.
    capacity : int
        Most values kept; :meth:`fill` stops there.
    """

    def __init__(
        self,
        public_key: PaillierPublicKey,
        *,
        private_key: PaillierPrivateKey | None = None,
        capacity: int = 1024,
    ) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise InputValidationError(
                f"public_key must be a PaillierPublicKey; got {type(public_key).__name__}"
            )
        if private_key is not None and private_key.public_key != public_key:
            raise CryptoError("private_key does not belong to public_key")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise InputValidationError(f"capacity must be a positive integer; got {capacity!r}")
        self.public_key = public_key
        self._private_key = private_key
        self.capacity = capacity
        self._values: deque[mpz] = deque()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.taken = 0
        self.misses = 0
        _LIVE_POOLS.add(self)

    def __repr__(self) -> str:
        return (
            f"RandomnessPool(key={self.public_key.fingerprint[:16]}…, available={self.available}, "
            f"capacity={self.capacity}, taken={self.taken}, misses={self.misses})"
        )

    def __reduce__(self) -> Any:
        raise TypeError(
            "a RandomnessPool cannot be pickled: its values must never leave this process"
        )

    def __copy__(self) -> Any:
        raise TypeError("a RandomnessPool cannot be copied: its values must be used once")

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        raise TypeError("a RandomnessPool cannot be copied: its values must be used once")

    def _discard_inherited(self) -> None:
        # runs in a freshly forked child: the lock may have been held by another thread
        self._lock = threading.Lock()
        self._values = deque()
        self._pid = os.getpid()

    @property
    def available(self) -> int:
        """Number of precomputed values ready."""
        return len(self._values)

    def _compute(self, count: int) -> list[mpz]:
        if self._private_key is not None:
            return [self._private_key.random_nth_residue() for _ in range(count)]
        import secrets

        n, n2 = self.public_key.n, self.public_key.nsquare
        rs: list[mpz] = []
        while len(rs) < count:
            r = mpz(secrets.randbelow(int(n) - 1) + 1)
            if gmpy2.gcd(r, n) == 1:
                rs.append(r)
        # one C call for the batch; releases the GIL, so a background thread does not stall the server
        return list(gmpy2.powmod_base_list(rs, n, n2))

    def fill(self, count: int | None = None, *, batch: int = 16) -> int:
        """Add up to ``count`` fresh values (default: up to capacity); return how many were added.

        Safe to call from a background thread while other threads :meth:`take`.
        """
        target = self.capacity if count is None else min(self.capacity, self.available + int(count))
        added = 0
        while self.available < target:
            values = self._compute(min(batch, target - self.available))
            with self._lock:
                if self._pid != os.getpid():  # we were forked mid-fill; drop these
                    self._discard_inherited()
                room = self.capacity - len(self._values)
                self._values.extend(values[:room])
                added += min(room, len(values))
        return added

    def take(self) -> mpz:
        """Remove and return one value ``r^n mod n²``; computes a fresh one when empty."""
        with self._lock:
            if self._pid != os.getpid():
                self._discard_inherited()
            if self._values:
                self.taken += 1
                return self._values.popleft()
            self.misses += 1
        return self._compute(1)[0]
