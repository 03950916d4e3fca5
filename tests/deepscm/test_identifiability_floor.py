"""The identifiability floor of the flux error (acie.deepscm.identifiability_floor)."""

from dataclasses import replace

import numpy as np
import pytest

from acie.deepscm.identifiability_floor import (
    floor_flux_errors,
    oracle_fluxes,
    quantile_answers,
    quench_posterior,
)
from acie.errors import InputValidationError
from acie.galaxy.measure import total_flux
from acie.galaxy.relations import quenched_fraction_peng10
from acie.galaxy.simulator import GalaxySimulator


@pytest.fixture(scope="module")
def galaxies():
    sim = GalaxySimulator(image_size=24, bands=("r",))
    batch = sim.sample(40, seed=7)
    # a handful: star-forming galaxies whose branch doubling M* may change, and quenched ones
    f_q = quenched_fraction_peng10(batch.properties["log_stellar_mass"])
    f_q2 = quenched_fraction_peng10(batch.properties["log_stellar_mass"] + np.log10(2.0))
    sf = f_q < batch.noise["quench"]
    idx = np.r_[np.flatnonzero(sf & (f_q2 - f_q > 0.1))[:3], np.flatnonzero(~sf)[:2]]
    assert idx.size == 5
    return sim, batch[idx]


def _flux(images):
    return total_flux(images[:, 0])[:, 0]


def test_posterior_is_the_observed_branch(galaxies):
    _, batch = galaxies
    lo, hi = quench_posterior(batch)
    u = batch.noise["quench"]
    assert np.all((lo <= u) & (u <= hi))
    f_q = quenched_fraction_peng10(batch.properties["log_stellar_mass"])
    assert np.allclose(np.minimum(abs(lo - f_q), abs(hi - f_q)), 0.0)  # one end is f_q(M*)


def test_oracle_equals_brute_force_galaxy_by_galaxy(galaxies):
    sim, batch = galaxies
    target = batch.properties["log_stellar_mass"] + np.log10(2.0)
    k = 8
    fl = oracle_fluxes(sim, batch, {"log_stellar_mass": target}, 0, n_nodes=k)
    lo, hi = quench_posterior(batch)
    for i in range(len(batch)):
        one = batch[[i]]
        fluxes = []
        for j in range(k):
            u = lo[i] + (hi[i] - lo[i]) * (j + 0.5) / k
            b = replace(one, noise={**one.noise, "quench": np.array([u])})
            cf = sim.counterfactual(b, {"log_stellar_mass": target[[i]]})
            fluxes.append(_flux(cf.images)[0])
        b = replace(one, noise={**one.noise, "quench": np.array([0.5 * (lo[i] + hi[i])])})
        med = _flux(sim.counterfactual(b, {"log_stellar_mass": target[[i]]}).images)[0]
        assert fl.nodes[i] == pytest.approx(fluxes, rel=1e-5)
        assert fl.expected[i] == pytest.approx(np.mean(fluxes), rel=1e-5)
        assert fl.median[i] == pytest.approx(med, rel=1e-5)
        assert (fl.low[i], fl.high[i]) == pytest.approx((min(fluxes), max(fluxes)), rel=1e-5)
    # the star-forming galaxies can quench (their posterior spans two outcomes), the
    # quenched ones cannot: one rendering each for them
    spread = np.log10(fl.high / fl.low)
    assert np.all(spread[:3] > 0.05)
    assert np.all(spread[3:] < 1e-3)
    assert fl.renders < len(batch) * (k + 1)


def test_floor_errors_against_the_truth(galaxies):
    sim, batch = galaxies
    target = batch.properties["log_stellar_mass"] + np.log10(2.0)
    truth = sim.counterfactual(batch, {"log_stellar_mass": target})
    err = floor_flux_errors(sim, batch, {"log_stellar_mass": target}, truth.images, 0, n_nodes=8)
    assert set(err) == {"median", "expected", "midrange", "quantile"}
    for v in err.values():
        assert v.shape == (len(batch),)
        assert np.all(np.isfinite(v))
        assert np.all(v >= 0)
        assert np.all(v[3:] < 1e-3)  # quenched galaxies: the oracle is exact
    # with the true draw the oracle would be exact: the floor is the draw's doing
    assert np.max(err["expected"][:3]) > 0.01


def test_quantile_answers_reach_the_target_coverage():
    rng = np.random.default_rng(0)
    # two outcomes per galaxy, 0 with probability p and gap g otherwise
    n, k = 200, 20
    gap = rng.uniform(0.0, 0.5, n)
    p = rng.uniform(0.0, 1.0, n)
    d = np.where(np.arange(k)[None, :] < (p * k)[:, None], 0.0, gap[:, None])
    ans, t = quantile_answers(d, 0.95)
    miss = np.mean(np.abs(d - ans[:, None]) > t + 1e-9)  # posterior mass outside +-t
    assert miss <= 0.05 + 1e-9
    # brute force: with a half-width 5 % smaller no answers reach the coverage (the best
    # window of each galaxy starts at one of its nodes)
    t2 = 0.95 * t
    best = [max(np.mean(np.abs(row - (c + t2)) <= t2) for c in row) for row in d]
    assert np.mean(1.0 - np.array(best)) > 0.05
    nan_row = np.vstack([d[:3], np.full((1, k), np.nan)])
    a, _ = quantile_answers(nan_row)
    assert np.isnan(a[-1])
    assert np.all(np.isfinite(a[:3]))


def test_bad_node_count_is_refused(galaxies):
    sim, batch = galaxies
    with pytest.raises(InputValidationError, match="n_nodes"):
        oracle_fluxes(sim, batch, {}, 0, n_nodes=0)
