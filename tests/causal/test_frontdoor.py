"""Front-door adjustment: the criterion on graphs, the closed form on a linear SCM with a
hidden confounder, and interval coverage."""

import numpy as np
import pytest

from acie.causal import CausalDAG
from acie.causal.frontdoor import frontdoor_effect
from acie.causal.identification import is_frontdoor_set
from acie.errors import InputValidationError

SMOKING = CausalDAG(edges=[("U", "T"), ("U", "Y"), ("T", "M"), ("M", "Y")])


def test_frontdoor_criterion():
    assert is_frontdoor_set(SMOKING, "T", "Y", ["M"])
    direct = CausalDAG(edges=[*SMOKING.edges, ("T", "Y")])
    assert not is_frontdoor_set(direct, "T", "Y", ["M"])  # a path avoids M
    confounded_m = CausalDAG(edges=[*SMOKING.edges, ("U", "M")])
    assert not is_frontdoor_set(confounded_m, "T", "Y", ["M"])  # T <- U -> M
    with pytest.raises(InputValidationError):
        is_frontdoor_set(SMOKING, "T", "Y", [])


def _smoking(n: int, seed: int, binary: bool):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n)
    t = (u + rng.normal(size=n) > 0).astype(float) if binary else u + rng.normal(size=n)
    m = 0.3 + 1.5 * t + rng.normal(size=n)
    y = 2.0 * m + 1.5 * u + rng.normal(size=n)
    return y, t, m  # the effect of T on Y is 1.5 * 2.0 = 3.0; U is hidden


@pytest.mark.parametrize("binary", [True, False])
def test_frontdoor_recovers_the_closed_form(binary):
    y, t, m = _smoking(5000, 0, binary)
    naive = np.polyfit(t, y, 1)[0]
    assert abs(naive - 3.0) > 0.5  # confounded
    r = frontdoor_effect(outcome=y, treatment=t, mediators=m, n_bootstrap=50)
    assert abs(r.estimate - 3.0) < 4 * r.std_error
    assert r.std_error < 0.1


def test_frontdoor_intervals_cover():
    hits = 0
    for seed in range(100):
        y, t, m = _smoking(300, seed, True)
        r = frontdoor_effect(outcome=y, treatment=t, mediators=m, n_bootstrap=100, seed=seed)
        hits += r.ci_low <= 3.0 <= r.ci_high
    assert hits >= 90
