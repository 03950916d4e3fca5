"""Selection bias on the simulator: flux-limited (Malmquist) and surface-brightness-limited
samples bias the naive fits; inverse-propensity weights remove the bias."""

from __future__ import annotations

import numpy as np
import pytest

from acie.analysis.selection import (
    apparent_magnitude,
    estimate_completeness,
    flux_limited,
    inverse_propensity_weights,
    mean_surface_brightness,
    photometry_frame,
    surface_brightness_limited,
    weighted_linear_fit,
)
from acie.errors import (
    EstimationError,
    InputValidationError,
    NonPhysicalValueError,
    UnknownNameError,
)
from acie.galaxy.simulator import GalaxySimulator


@pytest.fixture(scope="module")
def parent():
    sim = GalaxySimulator(image_size=32, bands=("r",), seed=0)
    frame = photometry_frame(sim.sample(20000, seed=7, render=False))
    # target population: log M_* > 9.8, where completeness stays above ~0.2 %
    return frame[frame["log_stellar_mass"] > 9.8].reset_index(drop=True)


def _check_bias_removed(parent, completeness, formula, term, seed=1):
    truth = weighted_linear_fit(formula, parent)  # the parent population's own fit
    selected = parent[completeness.sample(parent, seed=seed)]
    naive = weighted_linear_fit(formula, selected)
    weights = inverse_propensity_weights(completeness(selected))
    ipw = weighted_linear_fit(formula, selected, weights=weights)
    bias_naive = naive.params[term] - truth.params[term]
    bias_ipw = ipw.params[term] - truth.params[term]
    # the naive fit is off by more than 5 of its standard errors; the weighted one is
    # within 3 of its (sandwich) standard errors — the selected galaxies are a random
    # subset of the parent, so the parent fit is the truth up to that sampling error
    assert abs(bias_naive) > 5 * naive.std_errors[term], (bias_naive, naive.std_errors[term])
    assert abs(bias_ipw) < 3 * ipw.std_errors[term], (bias_ipw, ipw.std_errors[term])
    return bias_naive, bias_ipw


def test_flux_limit_malmquist_bias_removed(parent):
    # L_r at fixed M_*: a flux limit keeps the over-luminous (young, nearby) galaxies at
    # low mass, flattening the slope (Malmquist bias); r50 = 19.5 mag, width 0.4 mag
    naive_bias, _ = _check_bias_removed(
        parent,
        flux_limited(19.5, width_mag=0.4),
        "log_luminosity ~ log_stellar_mass",
        "log_stellar_mass",
    )
    assert naive_bias < 0


def test_surface_brightness_limit_bias_removed(parent):
    # size–mass: a surface-brightness limit loses large diffuse galaxies at low mass,
    # steepening the relation; mu50 = 22.5 mag/arcsec^2, width 0.4 mag
    naive_bias, _ = _check_bias_removed(
        parent,
        surface_brightness_limited(22.5, width_mag=0.4),
        "log_size ~ log_stellar_mass",
        "log_stellar_mass",
    )
    assert naive_bias > 0


def test_estimated_completeness_recovers_the_known_one_and_removes_the_bias(parent):
    known = flux_limited(19.5, width_mag=0.4)
    # injection-recovery: every parent galaxy injected once, detected with the known P
    detected = known.sample(parent, seed=99)
    est = estimate_completeness(parent["mag_r"], detected)
    assert abs(est.limit - 19.5) < 3 * est.limit_se
    assert abs(est.width - 0.4) < 3 * est.width_se
    assert est.estimated
    assert est.column == "mag_r"
    _check_bias_removed(parent, est, "log_luminosity ~ log_stellar_mass", "log_stellar_mass")


def test_photometry_closed_forms():
    # 1 nanomaggy is AB 22.5; 100 nanomaggies is 17.5
    np.testing.assert_allclose(apparent_magnitude([1.0, 100.0]), [22.5, 17.5])
    # mean SB within R_e: half the flux over pi R_e^2 (R_e = 1 arcsec: m + 2.5 log10(2 pi))
    np.testing.assert_allclose(mean_surface_brightness(20.0, 1.0), 20.0 + 2.5 * np.log10(2 * np.pi))
    c = flux_limited(20.0, width_mag=0.5)
    np.testing.assert_allclose(c.probability([20.0]), [0.5])
    assert c.probability([15.0])[0] > 0.9999
    assert c.unit == "mag"


def test_typed_errors(parent):
    with pytest.raises(NonPhysicalValueError, match="in \\(0, 1\\]"):
        inverse_propensity_weights([0.5, 0.0])
    with pytest.raises(InputValidationError, match="max_weight"):
        inverse_propensity_weights([0.5], max_weight=0.5)
    with pytest.raises(InputValidationError, match="width"):
        flux_limited(19.0, width_mag=-1.0)
    with pytest.raises(NonPhysicalValueError, match="flux"):
        apparent_magnitude([-1.0])
    with pytest.raises(UnknownNameError, match="no column 'mu_e_r'"):
        surface_brightness_limited(22.0)(parent[["mag_r"]])
    with pytest.raises(EstimationError, match="every injected source"):
        estimate_completeness([18.0, 19.0, 20.0], [True, True, True])
    with pytest.raises(UnknownNameError, match="columns are"):
        weighted_linear_fit("y ~ nope", parent)
    capped = inverse_propensity_weights([0.001, 0.5], max_weight=10, normalize=False)
    np.testing.assert_allclose(capped, [10.0, 2.0])
