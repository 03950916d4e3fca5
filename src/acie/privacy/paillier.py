"""The Paillier cryptosystem: keys, encryption, decryption and ciphertext arithmetic.

Paillier (Eurocrypt 1999) with ``g = n + 1``: a plaintext ``m`` in Z_n is encrypted as

    c = (1 + m·n) · r^n  mod n²,    r uniform in Z_n^*,

and decrypted with the factorisation ``n = p·q``. Ciphertexts multiply to add their
plaintexts, and a ciphertext raised to an integer ``k`` encrypts ``k·m``. Plaintexts are
signed integers: ``m`` in ``[-max_int, max_int]`` with ``max_int = n // 3 - 1`` (the
convention of the ``phe`` package), so that a residue in the middle third is recognised
as an overflow instead of being read as a wrong number.

All big-integer arithmetic is GMP through :mod:`gmpy2`; randomness comes from
:mod:`secrets` (the operating system's CSPRNG).

Speed-ups and who may use them
------------------------------
* **CRT decryption** (private key): two exponentiations modulo p² and q² instead of one
  modulo n². ``decrypt_bounded`` goes further when the caller knows ``|m| < p/2``: it
  decrypts modulo p only.
* **CRT encryption** (private key): the random factor ``r^n mod n²`` is built from its
  residues modulo p² and q² with fixed-base tables (built on first use, or by
  :meth:`PaillierPrivateKey.prepare`); :func:`generate_keypair` draws primes with
  ``p − 1 = 2·k·s`` (k < 2^17, s prime) so that this is possible. The distribution is
  exactly that of ``r^n`` for uniform ``r``.
* **Randomness pool** (public key only): ``r^n mod n²`` precomputed ahead of time by
  :class:`acie.privacy.pool.RandomnessPool`; each value is handed out once.

The CRT arithmetic lives in the private module :mod:`acie.privacy._crt`. This module is
longer than ~400 lines because what remains (~700 lines) is the scheme's three public
types, which depend on one another (a key encrypts to a ciphertext, a ciphertext checks
its key, a private key decrypts it), with their validation and serialisation.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from numbers import Integral
from typing import Any

import gmpy2
from gmpy2 import mpz

from acie.errors import (
    CryptoError,
    DataFormatError,
    EncodingOverflowError,
    InputValidationError,
    IntegrityError,
    KeyMismatchError,
)
from acie.privacy._crt import MR_ROUNDS, CrtDecryptor, CrtEncryptor, random_prime

__all__ = [
    "DEFAULT_KEY_BITS",
    "MAX_KEY_BITS",
    "MIN_KEY_BITS",
    "PaillierCiphertext",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "generate_keypair",
    "randomness_source",
]

DEFAULT_KEY_BITS = 2048
#: Smallest modulus accepted; below 2048 bits keys are for tests only.
MIN_KEY_BITS = 256
#: Largest modulus accepted (bounds the work a received public key can cause).
MAX_KEY_BITS = 16384
_PUBLIC_KIND = "acie.paillier.public/v1"
_PRIVATE_KIND = "acie.paillier.private/v1"
_FINGERPRINT_DOMAIN = b"acie.paillier.n/v1\x00"


def _as_int(value: object, what: str) -> int:
    """Return ``value`` as a Python int, refusing floats, bools and strings."""
    if isinstance(value, bool) or not isinstance(value, Integral | type(mpz(0))):
        raise InputValidationError(
            f"{what} must be an integer (int, numpy integer or gmpy2.mpz); "
            f"got {type(value).__name__} {value!r}"
        )
    return int(value)


#: Public moduli are trial-divided by every prime below this bound.
SMALL_PRIME_BOUND = 10_000
_SMALL_PRIMORIAL = gmpy2.primorial(SMALL_PRIME_BOUND)


def _check_not_weak(n: int) -> None:
    """Refuse a modulus with a prime factor below :data:`SMALL_PRIME_BOUND` or a perfect power.

    Both are cheap (one gcd with the primorial, one ``gmpy2.is_power``) and catch moduli
    that are not a product of two large primes: such a "key" is trivially factored.
    """
    g = int(gmpy2.gcd(n, _SMALL_PRIMORIAL))
    if g != 1:
        factor = next(p for p in range(3, SMALL_PRIME_BOUND, 2) if g % p == 0)
        raise CryptoError(
            f"Paillier modulus n has the small prime factor {factor} (trial division by the "
            f"primes below {SMALL_PRIME_BOUND}); expected a product of two large primes"
        )
    if gmpy2.is_power(n):
        raise CryptoError(
            "Paillier modulus n is a perfect power; expected a product of two distinct large primes"
        )


# --------------------------------------------------------------------------- keys


class PaillierPublicKey:
    """A Paillier public key ``(n, g = n + 1)``; enough to encrypt and to compute.

    Parameters
    ----------
    n : int
        The modulus, a product of two distinct primes of equal size.
    """

    __slots__ = ("_fingerprint", "max_int", "n", "nsquare")

    def __init__(self, *, n: int) -> None:
        n = _as_int(n, "Paillier modulus n")
        if n < (1 << (MIN_KEY_BITS - 1)) or n.bit_length() > MAX_KEY_BITS or n % 2 == 0:
            raise InputValidationError(
                f"Paillier modulus n must be an odd integer of {MIN_KEY_BITS} to {MAX_KEY_BITS} bits; "
                f"got a {n.bit_length()}-bit {'even' if n % 2 == 0 else 'odd'} number"
            )
        _check_not_weak(n)
        self.n = mpz(n)
        self.nsquare = self.n * self.n
        self.max_int = self.n // 3 - 1
        self._fingerprint = hashlib.sha256(
            _FINGERPRINT_DOMAIN + int(n).to_bytes((n.bit_length() + 7) // 8, "big")
        ).hexdigest()

    # identity -------------------------------------------------------------
    @property
    def g(self) -> mpz:
        """The generator, always ``n + 1``."""
        return self.n + 1

    @property
    def bits(self) -> int:
        """Bit length of n."""
        return int(self.n.bit_length())

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of n: names the key pair in files, payloads and errors."""
        return self._fingerprint

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PaillierPublicKey) and self.n == other.n

    def __hash__(self) -> int:
        return hash(self._fingerprint)

    def __repr__(self) -> str:
        return f"PaillierPublicKey(bits={self.bits}, fingerprint={self._fingerprint[:16]}…)"

    # encryption -------------------------------------------------------------
    def random_nth_residue(self) -> mpz:
        """A fresh ``r^n mod n²`` for uniform ``r`` in Z_n^* (public key only, slow path)."""
        n = self.n
        while True:
            r = mpz(secrets.randbelow(int(n) - 1) + 1)
            if gmpy2.gcd(r, n) == 1:
                return gmpy2.powmod(r, n, self.nsquare)

    def plaintext_factor(self, m: int) -> mpz:
        """``(1 + m·n) mod n²`` for a signed plaintext ``m``: the ``g^m`` factor."""
        m = _as_int(m, "plaintext")
        if abs(m) > self.max_int:
            raise EncodingOverflowError(
                f"plaintext must satisfy |m| <= max_int = n//3 - 1 (a {self.max_int.bit_length()}-bit "
                f"number) for this {self.bits}-bit key; got a {abs(m).bit_length()}-bit magnitude"
            )
        return (1 + (m % self.n) * self.n) % self.nsquare

    def encrypt(self, m: int, *, pool: Any = None) -> PaillierCiphertext:
        """Encrypt the signed integer ``m``.

        Parameters
        ----------
        m : int
            Plaintext, ``|m| <= max_int``.
        pool : acie.privacy.pool.RandomnessPool, optional
            Source of precomputed ``r^n mod n²``; without one, a fresh exponentiation.

        Returns
        -------
        PaillierCiphertext
        """
        factor = self.plaintext_factor(m)
        rn = randomness_source(self, pool)()
        return PaillierCiphertext(self, factor * rn % self.nsquare, abs(int(m)))

    # serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe mapping: kind, n (decimal string), g, bits and fingerprint."""
        return {
            "kind": _PUBLIC_KIND,
            "n": self.n.digits(10),
            "g": "n+1",
            "bits": self.bits,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: object) -> PaillierPublicKey:
        """Rebuild a public key from :meth:`to_dict` output (also accepts a private-key mapping)."""
        if not isinstance(data, dict):
            raise DataFormatError(
                f"a Paillier public key must be a JSON object; got {type(data).__name__}"
            )
        kind = data.get("kind")
        if kind not in (_PUBLIC_KIND, _PRIVATE_KIND):
            raise DataFormatError(
                f"Paillier key 'kind' must be {_PUBLIC_KIND!r} or {_PRIVATE_KIND!r}; got {kind!r}"
            )
        if data.get("g", "n+1") != "n+1":
            raise DataFormatError(
                f"only g = n + 1 is supported (field 'g' = 'n+1'); got {data.get('g')!r}"
            )
        key = cls(n=_parse_decimal(data, "n"))
        expected = data.get("fingerprint")
        if expected is not None and expected != key.fingerprint:
            raise IntegrityError(
                f"Paillier key fingerprint mismatch: the file says {expected!r} but n hashes to "
                f"{key.fingerprint!r}; the key was altered or truncated"
            )
        return key

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PaillierPublicKey:
        """Parse :meth:`to_json` output."""
        return cls.from_dict(_loads(text, "Paillier public key"))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the public key to ``path`` (JSON, mode 0644, atomic)."""
        from acie.privacy.keyfile import PUBLIC_FILE_MODE, write_json_atomic

        write_json_atomic(path, self.to_dict(), mode=PUBLIC_FILE_MODE)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PaillierPublicKey:
        """Read a public key written by :meth:`save` (or the public part of a private-key file)."""
        from acie.privacy.keyfile import read_json

        return cls.from_dict(read_json(path, what="Paillier public key"))


class PaillierPrivateKey:
    """A Paillier private key: the primes p and q of the public modulus.

    Parameters
    ----------
    public_key : PaillierPublicKey
        The matching public key.
    p, q : int
        Distinct primes with ``p·q = n``.
    """

    __slots__ = ("_decryptor", "_encryptor", "_encryptor_lock", "p", "public_key", "q")

    def __init__(self, *, public_key: PaillierPublicKey, p: int, q: int) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise InputValidationError(
                f"public_key must be a PaillierPublicKey; got {type(public_key).__name__}"
            )
        p, q = mpz(_as_int(p, "prime p")), mpz(_as_int(q, "prime q"))
        if p * q != public_key.n:
            raise KeyMismatchError(
                "the primes do not match the public key: p·q must equal n "
                f"(fingerprint {public_key.fingerprint[:16]}…)"
            )
        if p == q or not gmpy2.is_prime(p, MR_ROUNDS) or not gmpy2.is_prime(q, MR_ROUNDS):
            raise CryptoError("p and q must be distinct primes")
        if q > p:  # canonical order
            p, q = q, p
        self.public_key = public_key
        self.p, self.q = p, q
        if gmpy2.gcd(public_key.n, (p - 1) * (q - 1)) != 1:
            raise CryptoError("gcd(n, (p-1)(q-1)) must be 1 for a Paillier key")
        self._decryptor = CrtDecryptor(p, q)
        self._encryptor: CrtEncryptor | None = None
        self._encryptor_lock = threading.Lock()

    def __repr__(self) -> str:  # never print the primes
        return f"PaillierPrivateKey(bits={self.public_key.bits}, fingerprint={self.public_key.fingerprint[:16]}…)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PaillierPrivateKey) and (self.p, self.q) == (other.p, other.q)

    def __hash__(self) -> int:
        return hash(self.public_key)

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the public key."""
        return self.public_key.fingerprint

    # decryption --------------------------------------------------------------
    def _check(self, ciphertext: PaillierCiphertext) -> mpz:
        if not isinstance(ciphertext, PaillierCiphertext):
            raise InputValidationError(
                f"ciphertext must be a PaillierCiphertext; got {type(ciphertext).__name__}"
            )
        if ciphertext.public_key != self.public_key:
            raise KeyMismatchError(
                f"ciphertext under key {ciphertext.public_key.fingerprint[:16]}… cannot be "
                f"decrypted with key {self.fingerprint[:16]}…"
            )
        return ciphertext.value

    def decrypt_raw(self, ciphertext: PaillierCiphertext) -> int:
        """Decrypt to the residue in ``[0, n)`` (CRT)."""
        return self._decryptor.residue(self._check(ciphertext))

    def decrypt(self, ciphertext: PaillierCiphertext) -> int:
        """Decrypt to the signed integer in ``[-max_int, max_int]`` (CRT).

        Raises
        ------
        EncodingOverflowError
            The residue lies in the middle band (the computation overflowed), or the
            plaintext exceeds the ciphertext's declared :attr:`~PaillierCiphertext.bound`.
        """
        m = _to_signed(self.decrypt_raw(ciphertext), self.public_key)
        if abs(m) > ciphertext.bound:
            raise EncodingOverflowError(
                f"the decrypted plaintext ({abs(m).bit_length()} bits) exceeds the ciphertext's "
                f"declared bound ({ciphertext.bound.bit_length()} bits): the ciphertext was altered "
                "or its bound misdeclared"
            )
        return m

    def decrypt_many(self, ciphertexts: list[PaillierCiphertext]) -> list[int]:
        """Decrypt many ciphertexts to signed integers (batched CRT exponentiations)."""
        cs = [self._check(c) for c in ciphertexts]
        return [_to_signed(r, self.public_key) for r in self._decryptor.residues(cs)]

    def decrypt_bounded(self, ciphertexts: list[PaillierCiphertext], bound: int) -> list[int]:
        """Decrypt plaintexts known to satisfy ``|m| <= bound < (p - 1)/2`` modulo p only.

        Half the work of :meth:`decrypt_many`. A residue outside ``[-bound, bound]``
        (overflow, or a ciphertext that is not what it claims) raises.

        Parameters
        ----------
        ciphertexts : list of PaillierCiphertext
        bound : int
            Public upper bound on ``|m|``.

        Raises
        ------
        EncodingOverflowError
            A decrypted value exceeds ``bound``.
        """
        bound = _as_int(bound, "bound")
        p = self.p
        if bound < 0:
            raise InputValidationError(f"bound must be non-negative; got {bound}")
        if bound >= (p - 1) // 2:  # too wide for mod-p decryption: full CRT, same bound check
            values = self.decrypt_many(ciphertexts)
            for i, v in enumerate(values):
                if abs(v) > bound:
                    raise EncodingOverflowError(
                        f"decrypted value {i} exceeds its public bound of {bound.bit_length()} bits: "
                        "the encrypted computation overflowed or the ciphertext was altered"
                    )
            return values
        cs = [self._check(c) for c in ciphertexts]
        out = []
        for i, mp in enumerate(self._decryptor.residues_mod_p(cs)):
            if mp <= bound:
                out.append(mp)
            elif mp >= p - bound:
                out.append(mp - int(p))
            else:
                raise EncodingOverflowError(
                    f"decrypted value {i} exceeds its public bound of {bound.bit_length()} bits: "
                    "the encrypted computation overflowed or the ciphertext was altered"
                )
        return out

    # key-holder encryption -----------------------------------------------------
    def _crt(self) -> CrtEncryptor:
        enc = self._encryptor
        if enc is None:
            with self._encryptor_lock:
                if self._encryptor is None:
                    self._encryptor = CrtEncryptor(self.p, self.q)
                enc = self._encryptor
        return enc

    def random_nth_residue(self) -> mpz:
        """A fresh ``r^n mod n²`` by CRT (key holder only; same distribution as the public path)."""
        return self._crt().random_nth_residue()

    def encrypt(self, m: int) -> PaillierCiphertext:
        """Encrypt ``m`` with CRT encryption (key holder only; much faster than the public path)."""
        pk = self.public_key
        m = _as_int(m, "plaintext")
        if abs(m) > pk.max_int:
            pk.plaintext_factor(m)  # raises the standard overflow error
        return PaillierCiphertext(pk, self._crt().encrypt(m % pk.n, pk.n), abs(m))

    def prepare(self) -> PaillierPrivateKey:
        """Build the CRT-encryption tables now instead of on first use; returns ``self``."""
        self._crt()
        return self

    # serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe mapping with n, p and q as decimal strings. Secret: store with mode 0600."""
        data = self.public_key.to_dict()
        data.update(kind=_PRIVATE_KIND, p=mpz(self.p).digits(10), q=mpz(self.q).digits(10))
        return data

    @classmethod
    def from_dict(cls, data: object) -> PaillierPrivateKey:
        """Rebuild a private key from :meth:`to_dict` output, checking p·q = n and primality."""
        if not isinstance(data, dict) or data.get("kind") != _PRIVATE_KIND:
            got = data.get("kind") if isinstance(data, dict) else type(data).__name__
            raise DataFormatError(
                f"a Paillier private key must have kind {_PRIVATE_KIND!r}; got {got!r}"
            )
        public = PaillierPublicKey.from_dict(data)
        return cls(public_key=public, p=_parse_decimal(data, "p"), q=_parse_decimal(data, "q"))

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string (secret)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PaillierPrivateKey:
        """Parse :meth:`to_json` output."""
        return cls.from_dict(_loads(text, "Paillier private key"))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the private key to ``path``: JSON, mode 0600, atomic (temp file + rename)."""
        from acie.privacy.keyfile import PRIVATE_FILE_MODE, write_json_atomic

        write_json_atomic(path, self.to_dict(), mode=PRIVATE_FILE_MODE)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, allow_insecure_mode: bool = False
    ) -> PaillierPrivateKey:
        """Read a private key written by :meth:`save`.

        Parameters
        ----------
        path : path-like
            The key file.
        allow_insecure_mode : bool
            Accept a file that the group or others may read (refused by default).

        Raises
        ------
        CryptoError
            The file's mode lets the group or others read it (fix: ``chmod 600``).
        """
        from acie.privacy.keyfile import read_json

        return cls.from_dict(
            read_json(
                path,
                what="Paillier private key",
                private=True,
                allow_insecure_mode=allow_insecure_mode,
            )
        )


def randomness_source(public_key: PaillierPublicKey, pool: Any = None) -> Any:
    """A callable returning fresh ``r^n mod n²``: ``pool.take`` (checked to match the key) or the slow path."""
    if pool is None:
        return public_key.random_nth_residue
    if getattr(pool, "public_key", None) != public_key:
        raise KeyMismatchError(
            f"the randomness pool belongs to another key than {public_key.fingerprint[:16]}…"
        )
    return pool.take


#: Most decimal digits of a key field: a MAX_KEY_BITS-bit number has at most this many.
MAX_KEY_DIGITS = MAX_KEY_BITS * 30103 // 100000 + 1


def decimal_bits(text: str) -> int:
    """Bit length of the number a decimal string denotes, without Python's int/str limit."""
    return int(mpz(text).bit_length())


def _parse_decimal(data: dict[str, Any], field: str) -> int:
    value = data.get(field)
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise DataFormatError(
            f"Paillier key field {field!r} must be a decimal string of digits; got {value!r:.60}"
        )
    if len(value) > MAX_KEY_DIGITS:  # checked before any conversion: bounded work
        raise InputValidationError(
            f"Paillier key field {field!r} has {len(value)} decimal digits; a key of at most "
            f"{MAX_KEY_BITS} bits has at most {MAX_KEY_DIGITS}"
        )
    return int(mpz(value))  # gmpy2 parses without Python's 4300-digit int/str limit


def _loads(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{what} is not valid JSON: {exc}") from exc
    return data


def _to_signed(residue: int, public_key: PaillierPublicKey) -> int:
    n, max_int = int(public_key.n), int(public_key.max_int)
    if residue <= max_int:
        return residue
    if residue >= n - max_int:
        return residue - n
    raise EncodingOverflowError(
        "decrypted residue lies in the overflow band (max_int, n - max_int): the encrypted "
        "computation overflowed the plaintext space, or the ciphertext was altered"
    )


# --------------------------------------------------------------------------- key generation


def generate_keypair(bits: int = DEFAULT_KEY_BITS) -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    """Generate a Paillier key pair from the operating system's CSPRNG.

    The primes have ``bits/2`` bits each with the top two bits set (so n has exactly
    ``bits`` bits), differ in their top 100 bits (``|p − q| > 2^(bits/2 − 100)``, FIPS
    186-4 B.3.1 style), satisfy ``gcd(n, (p−1)(q−1)) = 1``, and have ``p − 1 = 2·k·s`` with
    ``s`` prime, which makes CRT encryption by fixed-base tables possible.

    Parameters
    ----------
    bits : int
        Bit length of n, even, at least 256 (2048 and above for real use).

    Returns
    -------
    (PaillierPublicKey, PaillierPrivateKey)
    """
    bits = _as_int(bits, "key size bits")
    if not MIN_KEY_BITS <= bits <= MAX_KEY_BITS or bits % 2:
        raise InputValidationError(
            f"key size must be an even number of bits in [{MIN_KEY_BITS}, {MAX_KEY_BITS}]; got {bits}"
        )
    half = bits // 2
    while True:
        p = random_prime(half)
        q = random_prime(half)
        if abs(p - q).bit_length() <= half - 100:
            continue
        n = p * q
        if n.bit_length() != bits or gmpy2.gcd(n, (p - 1) * (q - 1)) != 1:
            continue
        public = PaillierPublicKey(n=n)
        return public, PaillierPrivateKey(public_key=public, p=p, q=q)


# --------------------------------------------------------------------------- ciphertexts


class PaillierCiphertext:
    """One Paillier ciphertext with its public key and a public bound on ``|plaintext|``.

    ``a + b`` adds plaintexts, ``a + k`` adds the integer ``k``, ``a * k`` multiplies the
    plaintext by the integer ``k``. None of these re-randomises: call :meth:`rerandomize`
    before handing a result to someone who must not learn how it was computed.

    Every operation tracks :attr:`bound`, a public upper bound on the magnitude of the
    plaintext, and refuses (:class:`~acie.errors.EncodingOverflowError`) any result whose
    bound exceeds ``max_int``, and any scalar outside ``[-max_int, max_int]``: arithmetic
    never wraps silently modulo n. A ciphertext built from a bare value (received from
    elsewhere) has bound ``max_int``; declare a tighter one with :meth:`with_bound`.
    """

    __slots__ = ("bound", "public_key", "value")

    def __init__(self, public_key: PaillierPublicKey, value: int, bound: int | None = None) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise InputValidationError(
                f"public_key must be a PaillierPublicKey; got {type(public_key).__name__}"
            )
        value = mpz(_as_int(value, "ciphertext"))
        if not 0 < value < public_key.nsquare:
            raise InputValidationError(
                f"a ciphertext must lie in (0, n²) for key {public_key.fingerprint[:16]}…; "
                f"got a {int(value).bit_length()}-bit value"
            )
        max_int = int(public_key.max_int)
        bound = max_int if bound is None else _as_int(bound, "ciphertext bound")
        if not 0 <= bound <= max_int:
            raise InputValidationError(
                f"a ciphertext bound must lie in [0, max_int] (max_int has {max_int.bit_length()} "
                f"bits); got {'a negative number' if bound < 0 else f'{bound.bit_length()} bits'}"
            )
        self.public_key = public_key
        self.value = value
        self.bound = bound

    def __repr__(self) -> str:
        return f"PaillierCiphertext(key={self.public_key.fingerprint[:16]}…, bound={self.bound.bit_length()} bits)"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PaillierCiphertext)
            and self.public_key == other.public_key
            and self.value == other.value
        )

    def __hash__(self) -> int:
        return hash((self.public_key, int(self.value)))

    def with_bound(self, bound: int) -> PaillierCiphertext:
        """The same ciphertext declaring the public bound ``|plaintext| <= bound``.

        Decryption checks the declaration (:meth:`PaillierPrivateKey.decrypt` raises if the
        plaintext exceeds it).
        """
        return PaillierCiphertext(self.public_key, self.value, bound)

    def _checked(self, value: mpz, bound: int, what: str) -> PaillierCiphertext:
        pk = self.public_key
        if bound > pk.max_int:
            raise EncodingOverflowError(
                f"{what} could reach a {bound.bit_length()}-bit plaintext, beyond max_int "
                f"({int(pk.max_int).bit_length()} bits) of the {pk.bits}-bit key: refused as an "
                "overflow instead of wrapping modulo n (if the operand's bound is looser than "
                "its value, declare the true one with with_bound)"
            )
        return PaillierCiphertext(pk, value, bound)

    def _same_key(self, other: PaillierCiphertext) -> None:
        if other.public_key != self.public_key:
            raise KeyMismatchError(
                f"cannot combine ciphertexts under different keys ({self.public_key.fingerprint[:16]}… "
                f"and {other.public_key.fingerprint[:16]}…)"
            )

    def __add__(self, other: object) -> PaillierCiphertext:
        pk = self.public_key
        if isinstance(other, PaillierCiphertext):
            self._same_key(other)
            return self._checked(
                self.value * other.value % pk.nsquare, self.bound + other.bound, "the sum"
            )
        if isinstance(other, bool) or not isinstance(other, Integral | type(mpz(0))):
            return NotImplemented
        k = int(other)
        factor = pk.plaintext_factor(k)
        return self._checked(self.value * factor % pk.nsquare, self.bound + abs(k), "the sum")

    __radd__ = __add__

    def __neg__(self) -> PaillierCiphertext:
        return PaillierCiphertext(
            self.public_key, gmpy2.invert(self.value, self.public_key.nsquare), self.bound
        )

    def __sub__(self, other: object) -> PaillierCiphertext:
        if isinstance(other, PaillierCiphertext):
            return self + (-other)
        if isinstance(other, bool) or not isinstance(other, Integral | type(mpz(0))):
            return NotImplemented
        return self + (-int(other))

    def __rsub__(self, other: object) -> PaillierCiphertext:
        return (-self) + other

    def __mul__(self, other: object) -> PaillierCiphertext:
        if isinstance(other, bool) or not isinstance(other, Integral | type(mpz(0))):
            return NotImplemented
        pk = self.public_key
        k = int(other)
        if abs(k) > pk.max_int:
            raise EncodingOverflowError(
                f"a scalar must satisfy |k| <= max_int ({int(pk.max_int).bit_length()} bits) for "
                f"this {pk.bits}-bit key; got a {abs(k).bit_length()}-bit scalar (it would be "
                "taken modulo n and the product would wrap)"
            )
        if k == 0:
            return PaillierCiphertext(pk, 1, 0)
        if k < 0:  # negative scalar: invert once, short exponent
            base, e = gmpy2.invert(self.value, pk.nsquare), -k
        else:
            base, e = self.value, k
        return self._checked(gmpy2.powmod(base, e, pk.nsquare), self.bound * abs(k), "the product")

    __rmul__ = __mul__

    def rerandomize(self, *, pool: Any = None) -> PaillierCiphertext:
        """The same plaintext under fresh randomness (a pool entry or a new exponentiation)."""
        pk = self.public_key
        rn = randomness_source(pk, pool)()
        return PaillierCiphertext(pk, self.value * rn % pk.nsquare, self.bound)
