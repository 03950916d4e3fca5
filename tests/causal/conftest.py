"""Shared fixtures of the causal tests: small SCMs with closed-form answers."""

import numpy as np
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from acie.causal import AdditiveNoiseMechanism, LinearMechanism, StructuralCausalModel


@pytest.fixture(autouse=True)
def _single_threaded_blas():
    # the problems here are small: BLAS/OpenMP threads only contend with the other
    # xdist worker (on a loaded 2-core machine a 1566x20 lstsq went from 0.5 ms to 77 ms)
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def linear_scm() -> StructuralCausalModel:
    """x -> y -> z, x -> z; linear-Gaussian with known coefficients."""
    return StructuralCausalModel(
        mechanisms={
            "x": LinearMechanism(intercept=1.0),
            "y": LinearMechanism(coefficients={"x": 2.0}, intercept=-0.5),
            "z": LinearMechanism(coefficients={"y": 0.7, "x": -1.5}, intercept=3.0),
        },
        noise={"x": stats.norm(0, 1.0), "y": stats.norm(0, 0.5), "z": stats.norm(0, 0.3)},
    )


@pytest.fixture
def nonlinear_scm() -> StructuralCausalModel:
    """a -> b -> c with a -> c; non-linear additive-noise mechanisms."""
    return StructuralCausalModel(
        mechanisms={
            "a": LinearMechanism(),
            "b": AdditiveNoiseMechanism(parents=("a",), function=lambda p: np.sin(p["a"])),
            "c": AdditiveNoiseMechanism(
                parents=("a", "b"), function=lambda p: p["b"] ** 2 + 0.5 * p["a"]
            ),
        },
        noise={"a": stats.norm(0, 1.0), "b": stats.norm(0, 0.2), "c": stats.norm(0, 0.1)},
    )
