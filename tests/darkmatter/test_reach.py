"""Upper limits and reach curves; halo Monte Carlo bands."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from reference_data import QCDARK_GE, needs_qcdark_ge
from scipy import stats

from acie.darkmatter import reach as R
from acie.darkmatter.uncertainty import band, propagate, sample_halos
from acie.errors import EstimationError, NonPhysicalValueError, UnknownNameError

GE = dict(band_gap=0.67 * u.eV, pair_energy=2.9 * u.eV, fano=0.13, warn_beyond=None)


def test_poisson_limits_closed_form():
    # n = 0: s_up = −ln(1 − CL) (2.303 at 90 %, 2.996 at 95 %), the textbook values
    assert R.poisson_upper_limit(0, 0.9) == pytest.approx(math.log(10), rel=1e-12)
    assert R.poisson_upper_limit(0, 0.95) == pytest.approx(-math.log(0.05), rel=1e-12)
    # definition: P(n <= 3 | s_up) = 0.1 (PDG Table 40.3: 6.68 for n = 3 at 90 %)
    s = R.poisson_upper_limit(3, 0.9)
    assert stats.poisson.cdf(3, s) == pytest.approx(0.1, rel=1e-10)
    assert s == pytest.approx(6.68, abs=5e-3)


@pytest.mark.parametrize(
    ("n", "b", "lo", "hi"),
    [
        # Feldman & Cousins, PRD 57, 3873 (1998), Table IV (90 % CL); grid step 0.005, table rounded to 0.01
        (0, 0.0, 0.00, 2.44),
        (0, 0.5, 0.00, 1.94),
        (0, 1.0, 0.00, 1.61),
        (0, 1.5, 0.00, 1.33),
        (1, 0.0, 0.11, 4.36),
        (1, 2.0, 0.00, 2.53),
        (1, 3.0, 0.00, 1.88),
        (3, 0.0, 1.10, 7.42),
        (3, 1.0, 0.10, 6.42),
        (3, 3.0, 0.00, 4.42),
    ],
)
def test_feldman_cousins_table(n, b, lo, hi):
    got_lo, got_hi = R.feldman_cousins_interval(n, b, 0.9)
    assert got_lo == pytest.approx(lo, abs=0.011)
    assert got_hi == pytest.approx(hi, abs=0.011)


def test_cls_limits():
    # CLs with n = 0 is independent of b and equals the Poisson limit (Read 2002)
    for b in (0.0, 1.0, 5.0):
        assert R.cls_upper_limit(0, b) == pytest.approx(math.log(10), rel=1e-8)
    # background weakens nothing beyond b = 0 and decreases with b for fixed n > 0
    assert R.cls_upper_limit(3, 0.0) == pytest.approx(R.poisson_upper_limit(3), rel=1e-8)
    assert R.cls_upper_limit(3, 2.0) < R.cls_upper_limit(3, 0.0)
    with pytest.raises(NonPhysicalValueError):
        R.cls_upper_limit(-1, 0.0)
    with pytest.raises(UnknownNameError):
        R.signal_upper_limit(0, 0.0, 0.9, "bayes")


def test_nuclear_reach_scales_with_exposure():
    m = np.array([10.0, 50.0, 500.0]) * u.GeV
    one = R.nuclear_reach(m, 1000 * u.kg * u.yr, target="Xe", e_min=2 * u.keV, e_max=40 * u.keV)
    ten = R.nuclear_reach(m, 10 * u.t * u.yr, target="Xe", e_min=2 * u.keV, e_max=40 * u.keV)
    np.testing.assert_allclose(ten.cross_section, one.cross_section / 10, rtol=1e-12)
    # background-free 90 % CL at 1 t yr, 50 GeV: the well-known ~1e-47 cm² scale (XENONnT-like sensitivity)
    assert 1e-48 < one.cross_section[1].to_value(u.cm**2) < 1e-46
    with pytest.raises(NonPhysicalValueError, match="exposure"):
        R.nuclear_reach(m, 0 * u.kg * u.yr)


@needs_qcdark_ge
def test_electron_reach_threshold_background_and_exposure():
    from acie.darkmatter.formfactor.io import read_qcdark

    ge = read_qcdark(QCDARK_GE)
    m = np.array([5.0, 50.0, 500.0]) * u.MeV
    base = R.electron_reach(ge, m, 1 * u.kg * u.yr, **GE)
    double = R.electron_reach(ge, m, 2 * u.kg * u.yr, **GE)
    np.testing.assert_allclose(double.cross_section, base.cross_section / 2, rtol=1e-12)
    higher = R.electron_reach(ge, m, 1 * u.kg * u.yr, ne_threshold=3, **GE)
    assert np.all(higher.cross_section >= base.cross_section)
    one_bin = R.electron_reach(ge, m, 1 * u.kg * u.yr, ne_bin=2, **GE)
    assert np.all(one_bin.cross_section >= base.cross_section)
    fc = R.electron_reach(ge, m, 1 * u.kg * u.yr, n_obs=2, background=1.5, method="fc", **GE)
    assert fc.signal_limit == pytest.approx(R.feldman_cousins_interval(2, 1.5)[1])
    # projected reach: n_obs defaults to the median of Poisson(b), so a background weakens the reach
    with_bkg = R.electron_reach(ge, m, 1 * u.kg * u.yr, background=5.0, method="cls", **GE)
    assert with_bkg.settings["n_obs"] == 5
    assert np.all(with_bkg.cross_section > base.cross_section)
    # a background given as a rate is multiplied by the exposure: 0.75 /(kg yr) x 2 kg yr = 1.5 events
    rate_bkg = R.electron_reach(
        ge, m, 2 * u.kg * u.yr, n_obs=2, background=0.75 / (u.kg * u.yr), method="fc", **GE
    )
    assert rate_bkg.settings["background_events"] == pytest.approx(1.5)
    # 1 kg yr Ge, 100 MeV-ish heavy mediator, n_e >= 1, zero background: the ~1e-41 cm² scale of
    # Essig et al. 2016, Fig. 8 (Ge, 1 kg yr, 1e−) — a loose sanity window
    assert 1e-43 < base.cross_section[1].to_value(u.cm**2) < 1e-39


def test_halo_monte_carlo_bands_are_seeded_and_ordered():
    dists = {"v0": stats.norm(238, 10), "vesc": stats.norm(544, 30), "rho": stats.norm(0.3, 0.05)}
    a = sample_halos("baxter2021", dists, 64, seed=7)
    b = sample_halos("baxter2021", dists, 64, seed=7)
    assert [h.v0 for h in a] == [h.v0 for h in b]
    v0 = np.array([h.v0.value for h in a])
    # sample mean within 4 standard errors (10/sqrt(64) = 1.25 km/s) of 238
    assert abs(v0.mean() - 238) < 4 * 10 / 8
    from acie.darkmatter import nuclear as N

    e = np.array([2.0, 10.0, 30.0]) * u.keV
    bd = propagate(lambda h: N.dr_de(e, 50 * u.GeV, 1e-45 * u.cm**2, "Xe", halo=h), a)
    assert bd.samples.shape == (64, 3)
    assert np.all(bd.lo95 <= bd.lo68)
    assert np.all(bd.lo68 <= bd.median)
    assert np.all(bd.median <= bd.hi68)
    assert np.all(bd.hi68 <= bd.hi95)
    central = N.dr_de(e, 50 * u.GeV, 1e-45 * u.cm**2, "Xe")
    assert np.all((bd.lo95 < central) & (central < bd.hi95))
    with pytest.raises(UnknownNameError):
        sample_halos("baxter2021", {"speed": stats.norm(1, 1)}, 4)
    with pytest.raises(EstimationError):
        sample_halos("baxter2021", {"v0": stats.norm(-100, 1)}, 4, max_redraws=3)
    with pytest.raises(NonPhysicalValueError):
        band(np.ones((1, 3)))
