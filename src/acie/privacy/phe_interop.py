"""Conversion of keys and ciphertexts to and from the ``phe`` package (python-paillier).

Both use g = n + 1 and the same raw ciphertext ``(1 + m·n)·r^n mod n²``, so conversion
is exact and costs no cryptography:

* keys: same ``n`` (and ``p``, ``q``);
* raw ciphertexts: same integer (phe's ``EncryptedNumber.ciphertext(be_secure=False)``);
* encrypted vectors: phe encodes reals as ``mantissa · 16^exponent``; ours as
  ``integer · 2^-precision``. A vector at ``precision`` fractional bits maps to phe
  numbers with ``exponent = -precision/4``, so the precision must be a multiple of 4.
  phe numbers with different exponents are first brought to the smallest one with
  phe's own ``decrease_exponent_to``.

phe does not carry a public magnitude bound; :func:`vector_from_phe` takes it as an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from acie.errors import InputValidationError, KeyMismatchError
from acie.privacy.paillier import PaillierCiphertext, PaillierPrivateKey, PaillierPublicKey
from acie.privacy.vector import EncryptedVector

__all__ = [
    "ciphertext_from_phe",
    "ciphertext_to_phe",
    "private_key_from_phe",
    "private_key_to_phe",
    "public_key_from_phe",
    "public_key_to_phe",
    "vector_from_phe",
    "vector_to_phe",
]


def _phe() -> Any:
    import phe  # optional dependency (extras "test"/"bench")

    return phe


def public_key_to_phe(public_key: PaillierPublicKey) -> Any:
    """The same key as a ``phe.PaillierPublicKey``."""
    return _phe().PaillierPublicKey(int(public_key.n))


def public_key_from_phe(phe_public_key: Any) -> PaillierPublicKey:
    """A ``phe.PaillierPublicKey`` as a :class:`PaillierPublicKey` (g must be n + 1)."""
    if phe_public_key.g != phe_public_key.n + 1:
        raise InputValidationError(
            f"only g = n + 1 is supported; phe key has g = n + {phe_public_key.g - phe_public_key.n}"
        )
    return PaillierPublicKey(n=int(phe_public_key.n))


def private_key_to_phe(private_key: PaillierPrivateKey) -> Any:
    """The same key as a ``phe.PaillierPrivateKey``."""
    phe = _phe()
    return phe.PaillierPrivateKey(
        public_key_to_phe(private_key.public_key), int(private_key.p), int(private_key.q)
    )


def private_key_from_phe(phe_private_key: Any) -> PaillierPrivateKey:
    """A ``phe.PaillierPrivateKey`` as a :class:`PaillierPrivateKey`."""
    public = public_key_from_phe(phe_private_key.public_key)
    return PaillierPrivateKey(public_key=public, p=int(phe_private_key.p), q=int(phe_private_key.q))


def ciphertext_to_phe(
    ciphertext: PaillierCiphertext, *, exponent: int = 0, phe_public_key: Any = None
) -> Any:
    """The same ciphertext as a ``phe.EncryptedNumber`` (phe exponent ``exponent``, base 16)."""
    phe = _phe()
    pk = phe_public_key if phe_public_key is not None else public_key_to_phe(ciphertext.public_key)
    if int(pk.n) != int(ciphertext.public_key.n):
        raise KeyMismatchError("phe public key and ciphertext key differ")
    return phe.EncryptedNumber(pk, int(ciphertext.value), exponent)


def ciphertext_from_phe(
    encrypted_number: Any, *, public_key: PaillierPublicKey | None = None, bound: int | None = None
) -> PaillierCiphertext:
    """A ``phe.EncryptedNumber`` with exponent 0 (an integer) as a :class:`PaillierCiphertext`.

    ``bound`` declares the public bound on ``|plaintext|`` (default: ``max_int``, which
    allows additions but no scalar multiplication beyond 1; see
    :meth:`PaillierCiphertext.with_bound`).
    """
    if encrypted_number.exponent != 0:
        raise InputValidationError(
            f"only integer phe numbers (exponent 0) convert to a single ciphertext; got exponent "
            f"{encrypted_number.exponent} (use vector_from_phe for reals)"
        )
    pk = public_key or public_key_from_phe(encrypted_number.public_key)
    if int(encrypted_number.public_key.n) != int(pk.n):
        raise KeyMismatchError("phe number and public key differ")
    return PaillierCiphertext(pk, encrypted_number.ciphertext(be_secure=False), bound)


def vector_to_phe(vector: EncryptedVector) -> list[Any]:
    """An :class:`EncryptedVector` as a list of ``phe.EncryptedNumber`` (precision % 4 == 0)."""
    if vector.precision % 4:
        raise InputValidationError(
            f"precision must be a multiple of 4 to map onto phe's base-16 exponents; got {vector.precision}"
        )
    phe_pk = public_key_to_phe(vector.public_key)
    return [
        ciphertext_to_phe(c, exponent=-(vector.precision // 4), phe_public_key=phe_pk)
        for c in vector
    ]


def vector_from_phe(
    numbers: Sequence[Any], *, bound: int, public_key: PaillierPublicKey | None = None
) -> EncryptedVector:
    """A list of ``phe.EncryptedNumber`` as an :class:`EncryptedVector`.

    Parameters
    ----------
    numbers : sequence of phe.EncryptedNumber
        Same key; exponents <= 0.
    bound : int
        Public bound on ``|mantissa|`` after aligning exponents (phe does not track one).
    public_key : PaillierPublicKey, optional
        Our key object, if already at hand.
    """
    if not numbers:
        raise InputValidationError("need at least one phe number")
    pk = public_key or public_key_from_phe(numbers[0].public_key)
    exponent = min(x.exponent for x in numbers)
    if exponent > 0:
        raise InputValidationError(f"phe exponents must be <= 0; got {exponent}")
    cts = []
    for i, x in enumerate(numbers):
        if int(x.public_key.n) != int(pk.n):
            raise KeyMismatchError(f"phe number {i} is under a different key")
        if x.exponent != exponent:
            x = x.decrease_exponent_to(exponent)
        cts.append(x.ciphertext(be_secure=False))
    return EncryptedVector(
        public_key=pk, ciphertexts=cts, precision=-4 * exponent, bound=int(bound)
    )
