"""The public surface of acie.privacy (the contract the serving and operations code build on)."""

from __future__ import annotations

import importlib

import pytest

import acie.privacy

CONTRACT = {
    "acie.privacy.paillier": {
        "generate_keypair",
        "PaillierPublicKey",
        "PaillierPrivateKey",
        "PaillierCiphertext",
    },
    "acie.privacy.encoding": {"FixedPointEncoding", "DEFAULT_PRECISION"},
    "acie.privacy.vector": {"EncryptedVector"},
    "acie.privacy.linear": {"EncryptedLinearLayer"},
    "acie.privacy.pool": {"RandomnessPool"},
    "acie.privacy.blind": {"BlindInferenceClient", "BlindInferenceServer", "blind_infer"},
    "acie.privacy.network": {"BlindNetwork", "BlindNetworkClient", "BlindSession"},
    "acie.privacy.pool_cache": {"PoolCache"},
    "acie.privacy.aead": {"Keyring", "LineCipher", "generate_key", "key_id_for"},
    "acie.privacy.phe_interop": {
        "public_key_to_phe",
        "public_key_from_phe",
        "ciphertext_to_phe",
        "ciphertext_from_phe",
        "vector_to_phe",
        "vector_from_phe",
    },
}


@pytest.mark.parametrize("module", sorted(CONTRACT))
def test_module_exports(module):
    mod = importlib.import_module(module)
    assert CONTRACT[module] <= set(mod.__all__)
    assert all(hasattr(mod, name) for name in mod.__all__)


def test_package_exports():
    assert set(acie.privacy.__all__) == {
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
    }
    assert all(hasattr(acie.privacy, name) for name in acie.privacy.__all__)
