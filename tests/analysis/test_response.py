"""Response of observables to latent properties, checked against the analytic
derivative of the simulator's scaling relations (derived below by the chain rule)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit

from acie.analysis.observables import image_total_flux, model_flux, property_observable
from acie.analysis.response import counterfactual_response, observational_response
from acie.errors import InputValidationError, OutOfRangeError, UnknownNameError
from acie.galaxy.simulator import GalaxySimulator

LN10 = np.log(10.0)


# ---- the analytic derivative -----------------------------------------------------------
def shmr_slope(h):
    """d log M_* / d log M_h of Moster et al. 2013, eq. 2 (z = 0 parameters, Table 1):
    log M_* = h + log(2N) - log10(x^-beta + x^gamma), x = 10^(h - log M1), so
    d/dh = 1 - (gamma x^gamma - beta x^-beta) / (x^-beta + x^gamma)."""
    log_m1, beta, gamma = 11.590, 1.376, 0.608
    x = 10.0 ** (np.asarray(h) - log_m1)
    return 1.0 - (gamma * x**gamma - beta * x**-beta) / (x**-beta + x**gamma)


def _x_of_log_b(log_b):
    # exponential SFH: b = x / (e^x - 1); solve for x (b strictly decreasing in x)
    def f(x, lb):
        return np.log(x / np.expm1(x)) - lb

    return np.array(
        [brentq(f, -60.0, 60.0, args=(lb,)) if abs(lb) > 1e-12 else 1e-9 for lb in log_b]
    )


def analytic_dlogflux_dhalo(props, noise):
    """d log10 F_r / d log M_h per galaxy, by the chain rule through the mechanisms of
    ``acie.galaxy.mechanisms`` (module docstring) and ``acie.galaxy.relations``:

    m = SHMR(h) + c; gas excess is pure noise, so
    s = MS(m) - 1.5 expit((f_q(m) - u)/0.02) + c    (Speagle 2014, Peng 2010)
    Z = FMR(m, s) + c                               (Curti 2020)
    age = T frac(ln b), ln b = ln10 (s + c - m)     (exponential SFH)
    log L = m - [0.45 + 1.2 log10(age/10) + 0.3 (Z - 8.69)] + c
    log10 F_r = log L - 2 log10 d_L + c             (r band: no colour term)
    """
    h, m, s = props["log_halo_mass"], props["log_stellar_mass"], props["log_sfr"]
    age = props["age"]
    dm = shmr_slope(h)
    # SFR: main-sequence slope minus the quenching step's derivative
    t_univ = 13.787
    a_ms = 0.84 - 0.026 * t_univ
    mu = 10.0 ** (m - 10.6)
    dfq = np.exp(-mu) * mu * LN10
    sig = expit((-np.expm1(-mu) - noise["quench"]) / 0.02)
    ds = a_ms - 1.5 * sig * (1.0 - sig) / 0.02 * dfq
    # FMR: Z = Z0 - gamma/beta log10(1 + y), y = 10^(-beta (m - m0 - m1 s))
    gam, bet, m1 = 0.31, 2.1, 0.56
    y = 10.0 ** (-bet * (m - (10.11 + m1 * s)))
    dz = gam * y / (1.0 + y) * (1.0 - m1 * ds)
    # age: d frac / d ln b = (d frac/dx) / (d ln b/dx)
    t_form, ret = 12.5, 0.41
    log_b = (s + 0.2 * noise["age"] + np.log10(t_form * 1e9 * (1 - ret)) - m) * LN10
    x = _x_of_log_b(log_b)
    ex = np.exp(x)
    dfrac_dx = 1.0 / x**2 - ex / np.expm1(x) ** 2
    dlnb_dx = 1.0 / x - ex / np.expm1(x)
    dage = t_form * dfrac_dx / dlnb_dx * LN10 * (ds - 1.0)
    dlog_upsilon = 1.2 / (age * LN10) * dage + 0.3 * dz
    return dm * (1.0 - dlog_upsilon)


# ---- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim():
    return GalaxySimulator(image_size=48, bands=("r",), seed=0)


@pytest.fixture(scope="module")
def population(sim):
    return sim.sample(2000, seed=11, render=False)


GRID = np.array([11.2, 11.6, 12.0, 12.4, 12.8])


def test_stellar_mass_response_is_the_moster_slope(sim, population):
    # every galaxy has the same derivative (additive scatter), the SHMR slope; central
    # differences with eps = 1e-3 have truncation error eps^2 |f'''| / 6 < 1e-6
    curve = counterfactual_response(
        sim,
        population,
        treatment="log_halo_mass",
        observable=property_observable("log_stellar_mass"),
        grid=GRID,
        epsilon=1e-3,
    )
    np.testing.assert_allclose(curve.derivative, shmr_slope(GRID), rtol=1e-5)
    assert np.all(curve.derivative_se < 1e-6)


def test_model_flux_response_matches_the_chain_rule(sim, population):
    # eps = 1e-4 dex keeps the 0.02-wide quenching sigmoid resolved (truncation < 1e-3 per
    # galaxy); the age table is linear between nodes 0.0025 apart in x, so unit-level
    # slopes may differ from the analytic one by ~1e-3 relative. Tolerance on the
    # population mean: 1e-3 absolute + 1e-3 relative (sampling error cancels: the
    # same galaxies enter both sides).
    curve = counterfactual_response(
        sim,
        population,
        treatment="log_halo_mass",
        observable=model_flux("r"),
        grid=GRID,
        epsilon=1e-4,
    )
    expected = []
    for h in GRID:
        cf = sim.counterfactual(population, {"log_halo_mass": h}, render=False)
        expected.append(analytic_dlogflux_dhalo(cf.properties, cf.noise).mean())
    np.testing.assert_allclose(curve.derivative, expected, rtol=1e-3, atol=1e-3)
    # the response is strongly non-linear: steep below the SHMR pivot, shallow above it
    assert curve.derivative[0] > 2.5 * curve.derivative[-1]


def test_image_flux_tracks_luminosity_one_to_one(sim):
    # log L_r changes only the flux, not the shape, so the stamp holds a fixed fraction
    # of it and d log10 F_image / d log L = 1 (r band has no colour term); pixel noise is
    # shared (same seed), only its Poisson part changes. Tolerance: 5 standard errors.
    pop = sim.sample(120, seed=5)
    curve = counterfactual_response(
        sim,
        pop,
        treatment="log_luminosity",
        observable=image_total_flux("r"),
        grid=[9.5, 10.5],
        epsilon=0.02,
    )
    assert np.all(np.abs(curve.derivative - 1.0) < 5 * curve.derivative_se + 1e-3)


def test_image_flux_response_to_halo_mass_at_low_mass(sim, population):
    # at log M_h = 11.3 galaxies are a few pixels across: the image-measured response
    # follows the model flux within 10 % (stamp losses grow with size) and 5 s.e.
    pop = sim.sample(150, seed=6)
    img = counterfactual_response(
        sim,
        pop,
        treatment="log_halo_mass",
        observable=image_total_flux("r"),
        grid=[11.3],
        epsilon=0.01,
    )
    cf = sim.counterfactual(pop, {"log_halo_mass": 11.3}, render=False)
    expected = analytic_dlogflux_dhalo(cf.properties, cf.noise).mean()
    assert abs(img.derivative[0] - expected) < 0.1 * expected + 5 * img.derivative_se[0]


def test_observational_eif_estimate_agrees_with_counterfactuals(sim):
    # log M_h is a root node (no confounding); redshift is an outcome-only covariate.
    # Both estimate the population dE[log F]/dh; tolerance: 4 combined standard errors.
    big = sim.sample(8000, seed=21, render=False)
    data = big.to_dataframe()
    data["log_flux_r"] = np.log10(big.flux[:, 0])
    grid = [11.5, 12.3]
    obs = observational_response(
        data, treatment="log_halo_mass", outcome="log_flux_r", grid=grid, covariates=["redshift"]
    )
    cf = counterfactual_response(
        sim,
        big[:2000],
        treatment="log_halo_mass",
        observable=model_flux("r"),
        grid=grid,
        epsilon=1e-3,
    )
    for e, d, se in zip(obs, cf.derivative, cf.derivative_se, strict=True):
        assert e.treatment == "log_halo_mass"
        assert abs(e.estimate - d) < 4 * np.hypot(e.std_error, se)


def test_quenching_jumps_are_flagged_on_single_galaxies(sim):
    # one galaxy whose quenching draw sits near its f_q threshold: its SFR drops by
    # 1.5 dex over a 0.02-wide step in f_q, i.e. a jump in flux between grid points
    pop = sim.sample(400, seed=2, render=False)
    quenched_jump = []
    for i in range(len(pop)):
        lo = sim.counterfactual(pop[i], {"log_halo_mass": 11.0}, render=False)
        hi = sim.counterfactual(pop[i], {"log_halo_mass": 13.0}, render=False)
        if hi.properties["log_sfr"][0] - lo.properties["log_sfr"][0] < -0.5:
            quenched_jump.append(i)
        if len(quenched_jump) == 1:
            break
    unit = pop[quenched_jump[0]]
    curve = counterfactual_response(
        sim,
        unit[[0, 0]],
        treatment="log_halo_mass",
        observable=property_observable("log_sfr"),
        grid=np.linspace(11.05, 12.95, 20),
        epsilon=1e-3,
        threshold=5.0,
    )
    assert curve.discontinuities, curve.details["secant_mismatch_in_se"]
    # and a smooth curve has none: stellar mass is smooth in halo mass
    smooth = counterfactual_response(
        sim,
        pop,
        treatment="log_halo_mass",
        observable=property_observable("log_stellar_mass"),
        grid=np.linspace(11.05, 12.95, 20),
        epsilon=1e-3,
    )
    assert smooth.discontinuities == []


def test_bad_inputs_raise_typed_errors(sim, population):
    obs = model_flux("r")
    with pytest.raises(UnknownNameError, match="log_halo_mas"):
        counterfactual_response(
            sim, population, treatment="log_halo_mas", observable=obs, grid=[12.0]
        )
    with pytest.raises(OutOfRangeError, match="validity range"):
        counterfactual_response(
            sim, population, treatment="log_halo_mass", observable=obs, grid=[9.0, 12.0]
        )
    with pytest.raises(InputValidationError, match="strictly increasing"):
        counterfactual_response(
            sim, population, treatment="log_halo_mass", observable=obs, grid=[12.0, 11.5]
        )
    with pytest.raises(InputValidationError, match="epsilon"):
        counterfactual_response(
            sim, population, treatment="log_halo_mass", observable=obs, grid=[12.0], epsilon=0.0
        )
    with pytest.raises(InputValidationError, match="render=False"):
        counterfactual_response(
            sim,
            population,
            treatment="log_halo_mass",
            observable=image_total_flux("r"),
            grid=[12.0],
        )
    with pytest.raises(UnknownNameError, match="band"):
        model_flux("z")(population)
    with pytest.raises(UnknownNameError, match="column"):
        observational_response(
            population.to_dataframe(), treatment="log_halo_mass", outcome="nope", grid=[12.0]
        )


def test_grid_accepts_quantities(sim, population):
    # a linear halo mass in M_sun is converted to log10 M_h (the node's unit, dex(M_sun))
    from astropy import units as u

    curve = counterfactual_response(
        sim,
        population[:50],
        treatment="log_halo_mass",
        observable=property_observable("log_stellar_mass"),
        grid=[10**11.5, 10**12.0] * u.M_sun,
        epsilon=1e-3,
    )
    np.testing.assert_allclose(curve.grid, [11.5, 12.0])
    np.testing.assert_allclose(curve.derivative, shmr_slope(curve.grid), rtol=1e-5)
    assert curve.treatment_unit == "dex(solMass)"


def test_table_puts_each_estimate_beside_its_error_and_interval(sim, population):
    curve = counterfactual_response(
        sim,
        population[:50],
        treatment="log_halo_mass",
        observable=model_flux("r"),
        grid=[11.5, 12.0],
        epsilon=1e-3,
        level=0.9,
    )
    table = curve.to_dataframe()
    du = "dex(nmgy) / dex(solMass)"
    assert list(table.columns) == [
        "log_halo_mass [dex(solMass)]",
        f"derivative [{du}]",
        f"derivative_se [{du}]",
        f"derivative_ci_low [{du}]",
        f"derivative_ci_high [{du}]",
        "response [dex(nmgy)]",
        "response_se [dex(nmgy)]",
    ]
    np.testing.assert_array_equal(table[f"derivative_ci_low [{du}]"], curve.ci_low)
    # the interval is the derivative's (at the curve's level), not the response's
    half = (curve.ci_high - curve.ci_low) / 2
    np.testing.assert_allclose(half, 1.6448536 * curve.derivative_se, rtol=1e-6)
    np.testing.assert_allclose((curve.ci_high + curve.ci_low) / 2, curve.derivative)
    plain = curve.to_dataframe(unit_names=False)
    assert list(plain.columns) == [c.split(" [")[0] for c in table.columns]
    assert plain.attrs["units"]["derivative"] == du
    assert plain.attrs["units"]["log_halo_mass"] == "dex(solMass)"
    np.testing.assert_array_equal(plain.to_numpy(), table.to_numpy())
