"""Privacy: Paillier encryption, encrypted linear layers, blind inference, AES-GCM lines.

Modules
-------
paillier      keys, encryption, CRT decryption, ciphertext arithmetic (gmpy2)
_crt          (private) CRT decryption and encryption of the key holder, prime search
encoding      fixed-point encoding of reals with an explicit precision and public bound
pool          precomputed randomness r^n mod n², each value used once
vector        EncryptedVector: batch encryption, arithmetic, JSON form for the REST API
linear        EncryptedLinearLayer: y = Wx + b on encrypted x, re-randomised outputs
pool_cache    per-key randomness pools: an LRU bounded in keys and bytes, one refill thread
blind         end-to-end blind inference: client encrypts, server evaluates, client decrypts
network       blind inference of a multi-layer head in rounds (non-linearities at the client)
aead          per-line AES-GCM for JSONL streams with key ids and position binding
phe_interop   conversion of keys and ciphertexts to and from the ``phe`` package
keyfile       atomic key-file writer/reader (private keys 0600)

See ``docs/privacy.md``.
"""

from acie.privacy.encoding import DEFAULT_PRECISION, DEFAULT_VALUE_BOUND, FixedPointEncoding
from acie.privacy.linear import EncryptedLinearLayer
from acie.privacy.paillier import (
    PaillierCiphertext,
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)
from acie.privacy.pool import RandomnessPool
from acie.privacy.vector import EncryptedVector

__all__ = [
    "DEFAULT_PRECISION",
    "DEFAULT_VALUE_BOUND",
    "EncryptedLinearLayer",
    "EncryptedVector",
    "FixedPointEncoding",
    "PaillierCiphertext",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "RandomnessPool",
    "generate_keypair",
]
