"""Chinese-remainder arithmetic of the Paillier key holder (private helper of ``paillier``).

Whoever knows ``n = p·q`` can work modulo ``p²`` and ``q²`` instead of ``n²``:

* **CRT decryption** (:class:`CrtDecryptor`): two exponentiations modulo p² and q²
  instead of one modulo n², recombined by Garner's formula. When the caller knows
  ``|m| < p/2`` it can decrypt modulo p only (:meth:`CrtDecryptor.residues_mod_p`).
* **CRT encryption** (:class:`CrtEncryptor`): the random factor ``r^n mod n²`` is built
  from its residues modulo p² and q². Modulo p² the n-th residues form the cyclic
  subgroup of order p − 1 (the Teichmüller lifts of Z_p^*); :func:`random_prime` draws
  primes with ``p − 1 = 2·k·s`` (k < 2^17, s prime), so a generator is known and a
  uniform element is ``G^e`` with ``e`` uniform in ``[0, p − 1)``, computed from a
  fixed-base table (8-bit windows, about 8 MiB per prime for a 2048-bit key). The
  distribution is exactly that of ``r^n`` for uniform ``r``. For primes whose ``p − 1``
  cannot be factored (e.g. keys made by ``phe``), a uniform lift ``s^p mod p²`` is used
  instead (still CRT, slower).

All integers are :class:`gmpy2.mpz`; randomness comes from :mod:`secrets`.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

import gmpy2
from gmpy2 import mpz

__all__ = [
    "MR_ROUNDS",
    "CrtDecryptor",
    "CrtEncryptor",
    "factor_group_order",
    "random_prime",
]

#: Miller–Rabin rounds of every primality test.
MR_ROUNDS = 40
_SMALL_PRIME_LIMIT = 1 << 17  # cofactor k of p - 1 = 2·k·s is below this


# --------------------------------------------------------------------------- decryption


class CrtDecryptor:
    """Paillier decryption (``g = n + 1``) by residues modulo p² and q².

    Parameters
    ----------
    p, q : mpz
        The distinct primes of ``n = p·q``, ``p > q``.
    """

    __slots__ = ("hp", "hq", "p", "p2", "q", "q2", "qinv")

    def __init__(self, p: mpz, q: mpz) -> None:
        self.p, self.q = p, q
        self.p2, self.q2 = p * p, q * q
        # h_p = L_p(g^(p-1) mod p²)^-1 mod p, with g = n + 1: L_p(...) = (p-1)·q mod p
        self.hp = gmpy2.invert((p - 1) * q % p, p)
        self.hq = gmpy2.invert((q - 1) * p % q, q)
        self.qinv = gmpy2.invert(q, p)

    def _combine(self, mp: mpz, mq: mpz) -> int:
        """The residue in ``[0, n)`` with the given residues mod p and mod q (Garner)."""
        return int(mq + self.q * ((mp - mq) * self.qinv % self.p))

    def _from_p(self, x: mpz) -> mpz:
        return (x - 1) // self.p * self.hp % self.p

    def _from_q(self, y: mpz) -> mpz:
        return (y - 1) // self.q * self.hq % self.q

    def residue(self, c: mpz) -> int:
        """The plaintext residue in ``[0, n)`` of the ciphertext value ``c``."""
        x = gmpy2.powmod(c % self.p2, self.p - 1, self.p2)
        y = gmpy2.powmod(c % self.q2, self.q - 1, self.q2)
        return self._combine(self._from_p(x), self._from_q(y))

    def residues(self, cs: list[mpz]) -> list[int]:
        """:meth:`residue` of many ciphertext values (batched exponentiations)."""
        if not cs:
            return []
        xs = gmpy2.powmod_base_list([c % self.p2 for c in cs], self.p - 1, self.p2)
        ys = gmpy2.powmod_base_list([c % self.q2 for c in cs], self.q - 1, self.q2)
        return [
            self._combine(self._from_p(x), self._from_q(y)) for x, y in zip(xs, ys, strict=True)
        ]

    def residues_mod_p(self, cs: list[mpz]) -> list[int]:
        """The plaintext residues modulo p only, in ``[0, p)``: half the work of :meth:`residues`."""
        if not cs:
            return []
        xs = gmpy2.powmod_base_list([c % self.p2 for c in cs], self.p - 1, self.p2)
        return [int(self._from_p(x)) for x in xs]


# --------------------------------------------------------------------------- encryption


@lru_cache(maxsize=1)
def _small_primes() -> tuple[int, ...]:
    """Primes below ``_SMALL_PRIME_LIMIT`` (sieve of Eratosthenes)."""
    limit = _SMALL_PRIME_LIMIT
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(range(i * i, limit, i)))
    return tuple(i for i in range(limit) if sieve[i])


def factor_group_order(p: mpz) -> list[mpz] | None:
    """Distinct prime factors of p − 1 if its cofactor after small primes is 1 or prime, else None."""
    m = p - 1
    factors: list[mpz] = []
    for ell in _small_primes():
        if m % ell == 0:
            factors.append(mpz(ell))
            while m % ell == 0:
                m //= ell
        if m == 1:
            return factors
    if gmpy2.is_prime(m, MR_ROUNDS):
        factors.append(m)
        return factors
    return None


class _FixedBaseTable:
    """Fixed-base exponentiation with 8-bit windows: G^e as one product of table entries."""

    __slots__ = ("modulus", "nbytes", "table")

    def __init__(self, base: mpz, modulus: mpz, exponent_bits: int) -> None:
        self.modulus = modulus
        self.nbytes = (exponent_bits + 7) // 8
        table: list[mpz] = []
        b = base
        for _ in range(self.nbytes):
            row = [mpz(1), b]
            last = b
            for _ in range(254):
                last = last * b % modulus
                row.append(last)
            table.extend(row)
            b = last * b % modulus  # base^(256^(i+1))
        self.table = table

    def pow(self, e: int) -> mpz:
        table, mod = self.table, self.modulus
        acc = None
        for i, byte in enumerate(e.to_bytes(self.nbytes, "little")):
            if byte:
                x = table[(i << 8) | byte]
                acc = x if acc is None else acc * x % mod
        return mpz(1) if acc is None else acc


class _PrimeSide:
    """Uniform n-th residues modulo p² for one prime p (Teichmüller subgroup of order p − 1)."""

    __slots__ = ("p", "p2", "table")

    def __init__(self, p: mpz) -> None:
        self.p, self.p2 = p, p * p
        self.table: _FixedBaseTable | None = None
        factors = factor_group_order(p)
        if factors is not None:
            g = mpz(2)
            while any(gmpy2.powmod(g, (p - 1) // f, p) == 1 for f in factors):
                g += 1
            lift = gmpy2.powmod(g, p, self.p2)  # generator of the order-(p-1) subgroup mod p²
            self.table = _FixedBaseTable(lift, self.p2, int((p - 1).bit_length()))

    def residue(self) -> mpz:
        if self.table is not None:
            return self.table.pow(secrets.randbelow(int(self.p) - 1))
        s = mpz(secrets.randbelow(int(self.p) - 1) + 1)
        return gmpy2.powmod(s, self.p, self.p2)  # uniform Teichmüller lift


class CrtEncryptor:
    """Key-holder encryption: ``r^n mod n²`` from its residues mod p² and q².

    Builds the fixed-base tables at construction (a fraction of a second, ~8 MiB per
    prime for a 2048-bit key).
    """

    __slots__ = ("pside", "q2", "q2inv", "qside")

    def __init__(self, p: mpz, q: mpz) -> None:
        self.pside, self.qside = _PrimeSide(p), _PrimeSide(q)
        self.q2 = q * q
        self.q2inv = gmpy2.invert(self.q2, p * p)

    def _combine(self, a: mpz, b: mpz) -> mpz:
        return b + self.q2 * ((a - b) * self.q2inv % self.pside.p2)

    def random_nth_residue(self) -> mpz:
        """A uniform ``r^n mod n²``."""
        return self._combine(self.pside.residue(), self.qside.residue())

    def encrypt(self, m: int, n: mpz) -> mpz:
        """The ciphertext value of the residue ``m`` in ``[0, n)``."""
        ps, qs = self.pside, self.qside
        cp = (1 + (m % ps.p) * n) * ps.residue() % ps.p2
        cq = (1 + (m % qs.p) * n) * qs.residue() % qs.p2
        return self._combine(cp, cq)


# --------------------------------------------------------------------------- primes


def random_prime(bits: int) -> mpz:
    """A prime of exactly ``bits`` bits, top two bits set, with p − 1 = 2·k·s (s prime, k < 2^17).

    The known factorisation of p − 1 is what lets :class:`CrtEncryptor` find a generator.
    """
    s_bits = bits - 17
    while True:
        s = gmpy2.next_prime(mpz(secrets.randbits(s_bits)) | (mpz(1) << (s_bits - 1)))
        if s.bit_length() != s_bits:
            continue
        lo = ((mpz(3) << (bits - 2)) - 1) // (2 * s) + 1
        hi = ((mpz(1) << bits) - 2) // (2 * s)
        span = int(hi - lo + 1)
        for _ in range(40 * bits):
            p = 2 * (lo + secrets.randbelow(span)) * s + 1
            if gmpy2.is_prime(p, MR_ROUNDS):
                return p
