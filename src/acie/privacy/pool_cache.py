"""Randomness pools for many public keys: an LRU bounded in keys and bytes, one refill thread.

A server that re-randomises outputs for every client key it meets (blind inference)
keeps one :class:`~acie.privacy.pool.RandomnessPool` per key. Unbounded, that is a
denial of service: each new key would add a pool and a refill thread forever. A
:class:`PoolCache` bounds both:

* at most ``max_keys`` pools, and their capacities together hold at most ``max_bytes``
  of precomputed values (``2·bits/8`` bytes each); a new key evicts the least recently
  used pools until it fits (an evicted pool's values are simply dropped);
* one refill thread for all keys, started on demand and ended when its queue is empty;
  a key is queued at most once, and an evicted key's refill stops at the next batch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

from acie.errors import InputValidationError
from acie.privacy.paillier import PaillierPublicKey
from acie.privacy.pool import RandomnessPool

__all__ = ["PoolCache"]

_REFILL_BATCH = 8


def _positive(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputValidationError(f"{what} must be a positive integer; got {value!r}")
    return value


def value_bytes(public_key: PaillierPublicKey) -> int:
    """Size in bytes of one pooled value ``r^n mod n²`` for ``public_key``."""
    return (2 * public_key.bits + 7) // 8


class PoolCache:
    """Per-key randomness pools, least recently used evicted first.

    Parameters
    ----------
    capacity_per_key : int
        Most values one key's pool holds (less when ``max_bytes`` is smaller).
    max_keys : int
        Most pools kept.
    max_bytes : int
        Most bytes of pooled values, all pools together (pool capacities are counted).
    """

    def __init__(
        self, *, capacity_per_key: int = 256, max_keys: int = 32, max_bytes: int = 32 * 2**20
    ) -> None:
        self.capacity_per_key = _positive(capacity_per_key, "capacity_per_key")
        self.max_keys = _positive(max_keys, "max_keys")
        self.max_bytes = _positive(max_bytes, "max_bytes")
        self._pools: OrderedDict[str, RandomnessPool] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._worker: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.evictions = 0

    def __repr__(self) -> str:
        return (
            f"PoolCache(keys={self.keys}, nbytes={self.nbytes}, max_keys={self.max_keys}, "
            f"max_bytes={self.max_bytes}, evictions={self.evictions})"
        )

    def configure(self, *, max_keys: int | None = None, max_bytes: int | None = None) -> None:
        """Change the bounds (evicting at once if the cache is now over them)."""
        with self._lock:
            if max_keys is not None:
                self.max_keys = _positive(max_keys, "max_keys")
            if max_bytes is not None:
                self.max_bytes = _positive(max_bytes, "max_bytes")
            self._evict(0)

    # -- bookkeeping -------------------------------------------------------------------
    @property
    def keys(self) -> int:
        """Number of pools kept."""
        return len(self._pools)

    @property
    def nbytes(self) -> int:
        """Bytes of precomputed values held now, all pools together."""
        with self._lock:
            pools = list(self._pools.values())
        return sum(p.available * value_bytes(p.public_key) for p in pools)

    def __contains__(self, fingerprint: object) -> bool:
        return fingerprint in self._pools

    def _reserved(self) -> int:
        return sum(p.capacity * value_bytes(p.public_key) for p in self._pools.values())

    def _evict(self, incoming: int) -> None:
        """Drop least recently used pools until ``incoming`` more bytes (and one key) fit."""
        extra_key = 1 if incoming else 0
        while self._pools and (
            len(self._pools) + extra_key > self.max_keys
            or self._reserved() + incoming > self.max_bytes
        ):
            fp, _ = self._pools.popitem(last=False)
            self._queued.discard(fp)
            self.evictions += 1

    # -- use ---------------------------------------------------------------------------
    def get(self, public_key: PaillierPublicKey) -> RandomnessPool:
        """The pool of ``public_key``, created (evicting others) or marked recently used."""
        fp = public_key.fingerprint
        with self._lock:
            pool = self._pools.get(fp)
            if pool is not None:
                self._pools.move_to_end(fp)
                return pool
            vb = value_bytes(public_key)
            capacity = max(1, min(self.capacity_per_key, self.max_bytes // vb))
            self._evict(capacity * vb)
            pool = self._pools[fp] = RandomnessPool(public_key, capacity=capacity)
            return pool

    def request_refill(self, public_key: PaillierPublicKey) -> None:
        """Queue ``public_key``'s pool for filling by the one background refill thread."""
        fp = public_key.fingerprint
        with self._lock:
            if fp not in self._pools or fp in self._queued:
                return
            self._queued.add(fp)
            self._queue.append(fp)
            self._idle.clear()
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._refill_loop, name="acie-pool-refill", daemon=True
                )
                self._worker.start()

    def join_refill(self, timeout: float | None = None) -> bool:
        """Wait until the refill queue is empty (``False`` on timeout)."""
        return self._idle.wait(timeout)

    def _refill_loop(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._worker = None
                    self._idle.set()
                    return
                fp = self._queue.popleft()
            while True:
                with self._lock:
                    pool = self._pools.get(fp)
                    if pool is None or fp not in self._queued:  # evicted meanwhile
                        break
                if pool.available >= pool.capacity:
                    break
                pool.fill(_REFILL_BATCH)  # GIL released in gmpy2; requests keep flowing
            with self._lock:
                self._queued.discard(fp)
