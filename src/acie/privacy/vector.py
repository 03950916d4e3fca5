"""Encrypted vectors: batch Paillier encryption of float arrays, arithmetic, JSON form.

An :class:`EncryptedVector` holds one ciphertext per element, all under one public key
and at one fixed-point ``precision``, plus the public ``bound`` on the magnitude of the
encoded integers (see :mod:`acie.privacy.encoding`).

JSON form (``to_dict``), used by the REST API::

    {
      "format": "acie.paillier.vector/v1",
      "key_fingerprint": "<sha256 hex of n>",
      "precision": 24,                  # fractional bits: value = integer / 2**precision
      "bound": "72057594037927936",     # public bound on |integer| (decimal string)
      "ciphertext_encoding": "base64",  # or "decimal"
      "ciphertexts": ["<base64 of the big-endian ciphertext, 2·bits/8 bytes>", ...]
    }
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from gmpy2 import mpz
from numpy.typing import ArrayLike

from acie.errors import (
    DataFormatError,
    EncodingOverflowError,
    InputValidationError,
    KeyMismatchError,
    ShapeError,
)
from acie.privacy.encoding import (
    DEFAULT_PRECISION,
    DEFAULT_VALUE_BOUND,
    FixedPointEncoding,
    decode_at,
)
from acie.privacy.paillier import (
    PaillierCiphertext,
    PaillierPrivateKey,
    PaillierPublicKey,
    randomness_source,
)

__all__ = ["VECTOR_FORMAT", "EncryptedVector"]

VECTOR_FORMAT = "acie.paillier.vector/v1"
_MAX_ELEMENTS = 1 << 20


class EncryptedVector:
    """A vector of Paillier ciphertexts sharing a key, a precision and a public bound.

    Parameters
    ----------
    public_key : PaillierPublicKey
    ciphertexts : sequence of int
        Raw ciphertext values in ``(0, n²)``.
    precision : int
        Fractional bits of the encoded plaintexts.
    bound : int
        Public upper bound on ``|encoded plaintext|``.
    """

    __slots__ = ("bound", "ciphertexts", "precision", "public_key")

    def __init__(
        self,
        *,
        public_key: PaillierPublicKey,
        ciphertexts: Sequence[int],
        precision: int,
        bound: int,
    ) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise InputValidationError(
                f"public_key must be a PaillierPublicKey; got {type(public_key).__name__}"
            )
        if isinstance(precision, bool) or not isinstance(precision, int) or precision < 0:
            raise InputValidationError(
                f"precision must be a non-negative integer; got {precision!r}"
            )
        if isinstance(bound, bool) or not isinstance(bound, int) or bound < 0:
            raise InputValidationError(f"bound must be a non-negative integer; got {bound!r}")
        if bound > public_key.max_int:
            raise EncodingOverflowError(
                f"the public bound ({bound.bit_length()} bits) exceeds the plaintext space of the "
                f"{public_key.bits}-bit key (max_int has {int(public_key.max_int).bit_length()} bits)"
            )
        n2 = public_key.nsquare
        cts = [mpz(c) for c in ciphertexts]
        for i, c in enumerate(cts):
            if not 0 < c < n2:
                raise InputValidationError(
                    f"ciphertext {i} must lie in (0, n²); got a {int(c).bit_length()}-bit value"
                )
        self.public_key = public_key
        self.ciphertexts = cts
        self.precision = precision
        self.bound = bound

    # construction ------------------------------------------------------------------
    @classmethod
    def encrypt(
        cls,
        key: PaillierPublicKey | PaillierPrivateKey,
        values: ArrayLike,
        *,
        precision: int = DEFAULT_PRECISION,
        value_bound: float = DEFAULT_VALUE_BOUND,
        pool: Any = None,
    ) -> EncryptedVector:
        """Encrypt a 1-D float array.

        Parameters
        ----------
        key : PaillierPublicKey or PaillierPrivateKey
            With the private key, CRT encryption (key holder, fast); with the public key,
            randomness from ``pool`` or fresh exponentiations.
        values : array_like, shape (k,)
            Finite reals with ``|x| <= value_bound``.
        precision : int
            Fractional bits of the fixed-point encoding.
        value_bound : float
            Public bound on ``|x|``; it, not the data, sets :attr:`bound`.
        pool : RandomnessPool, optional
            Only for public-key encryption.
        """
        enc = FixedPointEncoding(precision=precision, value_bound=value_bound)
        if not isinstance(key, PaillierPublicKey | PaillierPrivateKey):
            raise InputValidationError(
                f"key must be a PaillierPublicKey or PaillierPrivateKey; got {type(key).__name__}"
            )
        pk = key.public_key if isinstance(key, PaillierPrivateKey) else key
        if enc.bound > pk.max_int:
            raise EncodingOverflowError(
                f"the declared bound value_bound·2^precision ({enc.bound.bit_length()} bits) exceeds "
                f"the plaintext space of the {pk.bits}-bit key; lower value_bound or precision"
            )
        ints = enc.encode(values)
        if isinstance(key, PaillierPrivateKey):
            cts = [key.encrypt(m).value for m in ints]
        else:
            take = randomness_source(pk, pool)
            n2 = pk.nsquare
            cts = [pk.plaintext_factor(m) * take() % n2 for m in ints]
        return cls(public_key=pk, ciphertexts=cts, precision=enc.precision, bound=enc.bound)

    # access -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ciphertexts)

    def __iter__(self) -> Iterator[PaillierCiphertext]:
        return (PaillierCiphertext(self.public_key, c, self.bound) for c in self.ciphertexts)

    def __getitem__(self, index: int) -> PaillierCiphertext:
        return PaillierCiphertext(self.public_key, self.ciphertexts[index], self.bound)

    def __repr__(self) -> str:
        return (
            f"EncryptedVector(len={len(self)}, precision={self.precision}, "
            f"key={self.public_key.fingerprint[:16]}…)"
        )

    @property
    def key_fingerprint(self) -> str:
        """Fingerprint of the public key."""
        return self.public_key.fingerprint

    # decryption ------------------------------------------------------------------------
    def decrypt_integers(self, private_key: PaillierPrivateKey) -> list[int]:
        """Decrypt to the encoded integers, checked against the public bound."""
        if not isinstance(private_key, PaillierPrivateKey):
            raise InputValidationError(
                f"private_key must be a PaillierPrivateKey; got {type(private_key).__name__}"
            )
        if private_key.public_key != self.public_key:
            raise KeyMismatchError(
                f"vector encrypted under key {self.key_fingerprint[:16]}… cannot be decrypted with "
                f"key {private_key.fingerprint[:16]}…"
            )
        return private_key.decrypt_bounded(list(self), self.bound)

    def decrypt(self, private_key: PaillierPrivateKey) -> np.ndarray:
        """Decrypt and decode to a float64 array."""
        return decode_at(self.decrypt_integers(private_key), self.precision)

    # arithmetic --------------------------------------------------------------------------
    def _like(self, cts: list[mpz], bound: int, precision: int | None = None) -> EncryptedVector:
        return EncryptedVector(
            public_key=self.public_key,
            ciphertexts=cts,
            precision=self.precision if precision is None else precision,
            bound=bound,
        )

    def __add__(self, other: object) -> EncryptedVector:
        n2 = self.public_key.nsquare
        if isinstance(other, EncryptedVector):
            if other.public_key != self.public_key:
                raise KeyMismatchError(
                    f"cannot add vectors under different keys ({self.key_fingerprint[:16]}… and "
                    f"{other.key_fingerprint[:16]}…)"
                )
            if len(other) != len(self):
                raise ShapeError(f"vector lengths must match; got {len(self)} and {len(other)}")
            if other.precision != self.precision:
                raise InputValidationError(
                    f"precisions must match to add; got {self.precision} and {other.precision}"
                )
            cts = [a * b % n2 for a, b in zip(self.ciphertexts, other.ciphertexts, strict=True)]
            return self._like(cts, self.bound + other.bound)
        arr = np.asarray(other, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(len(self), float(arr))
        if arr.shape != (len(self),):
            raise ShapeError(f"plaintext must have shape ({len(self)},); got {arr.shape}")
        bound_x = float(np.max(np.abs(arr))) if arr.size else 0.0
        enc = FixedPointEncoding(
            precision=self.precision, value_bound=max(bound_x, 2.0**-self.precision)
        )
        ints = enc.encode(arr)
        pk = self.public_key
        cts = [c * pk.plaintext_factor(m) % n2 for c, m in zip(self.ciphertexts, ints, strict=True)]
        return self._like(cts, self.bound + max(abs(m) for m in ints) if ints else self.bound)

    __radd__ = __add__

    def __neg__(self) -> EncryptedVector:
        neg = [(-PaillierCiphertext(self.public_key, c)).value for c in self.ciphertexts]
        return self._like(neg, self.bound)

    def __sub__(self, other: object) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            return self + (-other)
        return self + (-np.asarray(other, dtype=np.float64))

    def scale_by(self, factors: ArrayLike) -> EncryptedVector:
        """Multiply element-wise by plaintext *integers* (precision unchanged)."""
        ks = np.asarray(factors)
        if ks.ndim == 0:
            ks = np.full(len(self), ks)
        if ks.shape != (len(self),) or not np.issubdtype(ks.dtype, np.integer):
            raise InputValidationError(
                f"factors must be {len(self)} integers; got dtype {ks.dtype}, shape {ks.shape}"
            )
        out = [
            (PaillierCiphertext(self.public_key, c, self.bound) * int(k)).value
            for c, k in zip(self.ciphertexts, ks, strict=True)
        ]
        return self._like(
            out, self.bound * int(np.max(np.abs(ks.astype(object)))) if len(ks) else 0
        )

    def rerandomize(self, *, pool: Any = None) -> EncryptedVector:
        """The same plaintexts under fresh randomness."""
        pk = self.public_key
        n2 = pk.nsquare
        take = randomness_source(pk, pool)
        return self._like([c * take() % n2 for c in self.ciphertexts], self.bound)

    # serialisation ----------------------------------------------------------------------
    def to_dict(self, *, ciphertext_encoding: str = "base64") -> dict[str, Any]:
        """JSON-safe mapping (see the module docstring); ``ciphertext_encoding`` is base64 or decimal."""
        if ciphertext_encoding == "base64":
            width = (int(self.public_key.nsquare.bit_length()) + 7) // 8
            cts = [
                base64.b64encode(int(c).to_bytes(width, "big")).decode("ascii")
                for c in self.ciphertexts
            ]
        elif ciphertext_encoding == "decimal":
            cts = [mpz(c).digits(10) for c in self.ciphertexts]
        else:
            raise InputValidationError(
                f"ciphertext_encoding must be 'base64' or 'decimal'; got {ciphertext_encoding!r}"
            )
        return {
            "format": VECTOR_FORMAT,
            "key_fingerprint": self.key_fingerprint,
            "precision": self.precision,
            "bound": mpz(self.bound).digits(10),
            "ciphertext_encoding": ciphertext_encoding,
            "ciphertexts": cts,
        }

    @classmethod
    def from_dict(cls, data: object, public_key: PaillierPublicKey) -> EncryptedVector:
        """Rebuild from :meth:`to_dict` output; the fingerprint must match ``public_key``.

        Raises
        ------
        DataFormatError
            Missing or malformed fields.
        KeyMismatchError
            The payload names a different key.
        """
        if not isinstance(data, dict):
            raise DataFormatError(
                f"an encrypted vector must be a JSON object; got {type(data).__name__}"
            )
        if data.get("format") != VECTOR_FORMAT:
            raise DataFormatError(
                f"encrypted vector 'format' must be {VECTOR_FORMAT!r}; got {data.get('format')!r}"
            )
        if data.get("key_fingerprint") != public_key.fingerprint:
            raise KeyMismatchError(
                f"encrypted vector is under key {str(data.get('key_fingerprint'))[:16]}…, "
                f"expected {public_key.fingerprint[:16]}…"
            )
        precision = data.get("precision")
        if (
            isinstance(precision, bool)
            or not isinstance(precision, int)
            or not 0 <= precision <= 4096
        ):
            raise DataFormatError(f"'precision' must be an integer in [0, 4096]; got {precision!r}")
        bound = data.get("bound")
        # a bound beyond max_int is refused anyway: its digit count is checked before parsing
        max_digits = len(public_key.max_int.digits(10))
        if not isinstance(bound, str) or not bound.isascii() or not bound.isdigit():
            raise DataFormatError(f"'bound' must be a decimal string; got {bound!r:.60}")
        if len(bound) > max_digits:
            raise EncodingOverflowError(
                f"'bound' has {len(bound)} digits: it exceeds the plaintext space of the "
                f"{public_key.bits}-bit key (max_int has {max_digits} digits)"
            )
        raw = data.get("ciphertexts")
        if not isinstance(raw, list) or len(raw) > _MAX_ELEMENTS:
            raise DataFormatError(
                f"'ciphertexts' must be a list of at most {_MAX_ELEMENTS} strings"
            )
        encoding = data.get("ciphertext_encoding", "base64")
        ct_digits = len(public_key.nsquare.digits(10))
        cts: list[int] = []
        for i, item in enumerate(raw):
            if not isinstance(item, str):
                raise DataFormatError(f"ciphertext {i} must be a string; got {type(item).__name__}")
            if encoding == "base64":
                try:
                    cts.append(int.from_bytes(base64.b64decode(item, validate=True), "big"))
                except (binascii.Error, ValueError) as exc:
                    raise DataFormatError(f"ciphertext {i} is not valid base64: {exc}") from exc
            elif encoding == "decimal":
                if not item.isascii() or not item.isdigit() or len(item) > ct_digits:
                    raise DataFormatError(
                        f"ciphertext {i} must be a decimal string of at most {ct_digits} digits; "
                        f"got {item[:40]!r}"
                    )
                cts.append(int(mpz(item)))
            else:
                raise DataFormatError(
                    f"'ciphertext_encoding' must be 'base64' or 'decimal'; got {encoding!r}"
                )
        try:
            return cls(
                public_key=public_key, ciphertexts=cts, precision=precision, bound=int(mpz(bound))
            )
        except InputValidationError as exc:
            raise DataFormatError(f"encrypted vector is malformed: {exc}") from exc
