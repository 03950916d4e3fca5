import base64
import os

import pytest

from acie.ops.simulate import simulate_telemetry


@pytest.fixture
def key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def records():
    return simulate_telemetry(n=40, seed=3, randomise=False, cache_on_step=20)
