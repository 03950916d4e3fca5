"""Shared keys for the privacy tests: small keys for speed (one test module uses 2048 bits)."""

from __future__ import annotations

import pytest

from acie.privacy.paillier import generate_keypair


@pytest.fixture(scope="session")
def keys512():
    return generate_keypair(512)


@pytest.fixture(scope="session")
def keys1024():
    return generate_keypair(1024)


@pytest.fixture(scope="session")
def other_keys512():
    return generate_keypair(512)
