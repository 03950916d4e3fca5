"""Halo models: SHM normalisation and closed-form η, SHM++, Earth velocity, parameter sets."""

from __future__ import annotations

import json
import math

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time
from scipy import integrate

from acie.darkmatter import halo as H
from acie.darkmatter import halo_parameters as HP
from acie.errors import DataFormatError, NonPhysicalValueError, UnitsError, UnknownNameError

KMS = u.km / u.s
# (v0, vesc, vE) triples: the built-in sets plus one with v_E > v_esc (the rarely used regime)
CASES = [(238.0, 544.0, 250.2), (230.0, 600.0, 240.0), (220.0, 544.0, 232.0), (150.0, 200.0, 260.0)]


def _gal_pdf(w, v0, vesc):
    """Galactic-frame truncated Maxwellian, normalised here independently (numerical 1-D quad)."""
    norm = integrate.quad(
        lambda x: 4 * math.pi * x**2 * math.exp(-((x / v0) ** 2)), 0, vesc, epsabs=0, epsrel=1e-12
    )[0]
    return np.where(w < vesc, np.exp(-((w / v0) ** 2)), 0.0) / norm


@pytest.mark.parametrize(("v0", "vesc", "ve"), CASES)
def test_speed_distribution_normalised(v0, vesc, ve):
    # ∫ f(v) dv = 1 (tolerance 1e-9: quad accuracy with the kink as a break point)
    pts = [abs(vesc - ve)]
    total = integrate.quad(
        lambda v: H.shm_speed_pdf_kms(np.array([v]), v0, vesc, ve)[0],
        0,
        vesc + ve,
        points=pts,
        epsabs=0,
        epsrel=1e-11,
        limit=200,
    )[0]
    assert total == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("v0", "vesc", "ve"), CASES)
def test_eta_closed_form_matches_direct_integration(v0, vesc, ve):
    # Independent η: speed integral (quad) of an angular integral (Gauss–Legendre over cos θ up to
    # the escape cut) of the galactic-frame Maxwellian boosted by v_E
    nodes, weights = np.polynomial.legendre.leggauss(48)

    def inner(v):
        if v == 0.0:
            return 0.0
        cmax = min(1.0, (vesc**2 - v * v - ve * ve) / (2 * v * ve))
        if cmax <= -1.0:
            return 0.0
        c = 0.5 * (cmax + 1) * (nodes + 1) - 1
        w = np.sqrt(np.maximum(v * v + ve * ve + 2 * v * ve * c, 0.0))
        return (
            2
            * math.pi
            * v
            * 0.5
            * (cmax + 1)
            * np.sum(weights * _gal_pdf(w * (1 - 1e-15), v0, vesc))
        )

    def eta_num(vmin):
        brk = [b for b in (abs(vesc - ve),) if vmin < b < vesc + ve]
        return integrate.quad(
            inner, vmin, vesc + ve, points=brk or None, epsabs=1e-14, epsrel=1e-10, limit=200
        )[0]

    vmins = np.array([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1.2]) * (vesc + ve)
    closed = H.eta_shm_kms(vmins, v0, vesc, ve)
    numeric = np.array([eta_num(v) for v in vmins])
    # tolerance: 1e-8 relative to η(0), set by the quadrature accuracy
    np.testing.assert_allclose(closed, numeric, rtol=0, atol=1e-8 * closed[0])
    assert closed[-1] == 0.0  # zero beyond v_esc + v_E


def test_eta_units_and_rescaling_invariance():
    a = H.eta_shm([100.0, 300.0] * KMS, "baxter2021")
    b = H.eta_shm([1.0e5, 3.0e5] * u.m / u.s, "baxter2021")
    assert a.unit == u.s / u.km
    np.testing.assert_allclose(a.to_value(u.s / u.m), b.to_value(u.s / u.m), rtol=1e-13)
    with pytest.raises(UnitsError, match="km / s"):
        H.eta_shm([100.0] * u.kg)
    with pytest.raises(NonPhysicalValueError):
        H.eta_shm([-1.0] * KMS)


def test_shmpp_reduces_to_shm():
    pp = HP.get_halo_parameters("shmpp2019")
    vm = np.linspace(0, 780, 40) * KMS
    ve = np.linalg.norm(pp.v_sun)
    shm = H.eta_shm(vm, pp, v_earth=ve)
    # sausage fraction 0: identical by construction
    np.testing.assert_allclose(
        H.eta_shmpp(vm, pp.with_values(sausage_fraction=0.0)), shm, rtol=0, atol=1e-15
    )
    # beta = 0: the sausage becomes the isotropic Maxwellian; numerical quadrature error < 1e-4 of η(0)
    iso = H.eta_shmpp(vm, pp.with_values(beta=0.0))
    np.testing.assert_allclose(iso.value, shm.value, rtol=0, atol=1e-4 * shm.value[0])


def test_shmpp_against_monte_carlo():
    # Independent check: sample the truncated anisotropic Gaussian (Evans+2019 eq. 2), boost, average 1/v
    pp = HP.get_halo_parameters("shmpp2019").with_values(sausage_fraction=1.0)
    v0, vesc, beta = 233.0, 528.0, 0.9
    sr = math.sqrt(3 * v0**2 / (2 * (3 - 2 * beta)))
    st = math.sqrt(3 * v0**2 * (1 - beta) / (2 * (3 - 2 * beta)))
    rng = np.random.default_rng(12345)
    v = rng.normal(size=(400_000, 3)) * np.array([sr, st, st])
    v = v[np.linalg.norm(v, axis=1) < vesc]
    speed = np.linalg.norm(v + pp.v_sun.to_value(KMS), axis=1)
    vmins = np.array([0.0, 200.0, 400.0, 600.0])
    samples = (speed[None, :] > vmins[:, None]) / speed[None, :]
    mc = samples.mean(axis=1)
    err = samples.std(axis=1) / math.sqrt(speed.size)
    ours = H.eta_shmpp(vmins * KMS, pp).to_value(u.s / u.km)
    # tolerance: 5 standard errors of the Monte Carlo mean plus 2e-4 η(0) for the quadrature
    assert np.all(np.abs(ours - mc) < 5 * err + 2e-4 * ours[0])


def test_earth_velocity_annual_cycle():
    h = HP.get_halo_parameters("baxter2021")
    t = Time("2023-01-01") + np.arange(0, 365, 1.0) * u.day
    vel = H.earth_velocity(t, h).to_value(KMS)
    speed = np.linalg.norm(vel, axis=1)
    # Independent circular-orbit model: McCabe, PRD 90, 123524 (2014) eq. 9–10 (arXiv:1312.1355)
    e1 = np.array([0.9940, 0.1095, 0.003116])
    e2 = np.array([-0.05173, 0.4945, -0.8677])
    days = (t - Time("2023-03-22")).to_value(u.day)
    phase = 2 * np.pi * days / 365.25
    ref = h.v_sun.to_value(KMS) + 29.79 * (
        e1[None] * np.cos(phase)[:, None] + e2[None] * np.sin(phase)[:, None]
    )
    # tolerance 1.2 km/s: the reference ignores orbital eccentricity (0.0167 x 29.8 km/s = 0.5 km/s)
    np.testing.assert_allclose(vel, ref, atol=1.2)
    peak = t[np.argmax(speed)]
    assert Time("2023-05-20") < peak < Time("2023-06-15")  # maximum around June 1–2
    assert 13.0 < (speed.max() - speed.min()) / 2 < 16.5  # 29.8 km/s x cos(60 deg) ≈ 15 km/s


def test_parameter_sets_and_files(tmp_path):
    assert {"baxter2021", "qedark2016", "shmpp2019", "lewin-smith1996"} <= set(
        HP.available_halo_parameters()
    )
    b = HP.get_halo_parameters("baxter2021")
    assert (b.v0, b.vesc, b.rho) == (238 * KMS, 544 * KMS, 0.3 * u.GeV / u.cm**3)
    assert "2105.00599" in b.citation
    q = HP.get_halo_parameters("qedark2016")
    assert (q.v0.value, q.v_earth.value, q.vesc.value, q.rho.value) == (230, 240, 600, 0.4)
    spec = {
        "name": "mine",
        "v0": {"value": 0.22, "unit": "Mm/s"},
        "vesc": {"value": 550, "unit": "km/s"},
        "rho": {"value": 0.0079, "unit": "solMass/pc3"},
        "v_earth": {"value": 232, "unit": "km/s"},
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(spec))
    mine = HP.resolve_halo(str(path))
    assert mine.v0.to_value(KMS) == pytest.approx(220.0)
    # 0.0079 Msun/pc^3 = 0.300 GeV/cm^3 (1 GeV/cm^3 = 0.0263 Msun/pc^3)
    assert mine.rho.to_value(u.GeV / u.cm**3) == pytest.approx(0.300, rel=3e-3)
    with pytest.raises(UnknownNameError, match="baxter2021"):
        HP.get_halo_parameters("nope")
    with pytest.raises(NonPhysicalValueError):
        b.with_values(v0=-5 * KMS)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**spec, "v0": 220}))
    with pytest.raises(DataFormatError, match="v0"):
        HP.load_halo_parameters(bad)
