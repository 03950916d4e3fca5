"""Directional rates and the daily rotation: Radon transform, sphere integral, Cygnus, lab frame."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.time import Time

from acie.darkmatter import targets as T
from acie.darkmatter.daily_rotation import (
    SIDEREAL_DAY,
    daily_modulation,
    recoil_direction_altaz,
    sidereal_day_times,
)
from acie.darkmatter.directional import d2r_de_domega, peak_recoil_direction, radon_shm_kms
from acie.darkmatter.halo import earth_velocity
from acie.darkmatter.nuclear import dr_de, vmin_nuclear
from acie.errors import NonPhysicalValueError, OutOfRangeError, ShapeError, UnknownNameError

T0 = Time("2026-03-01T00:00:00", scale="utc")
SIGMA = 1e-45 * u.cm**2
LNGS = EarthLocation(lat=42.42 * u.deg, lon=13.52 * u.deg, height=963 * u.m)


def _galactic(vec) -> SkyCoord:
    x, y, z = vec
    return SkyCoord(
        l=math.degrees(math.atan2(y, x)) * u.deg,
        b=math.degrees(math.asin(z)) * u.deg,
        frame="galactic",
    )


def _sphere_grid(n: int):
    x, wx = np.polynomial.legendre.leggauss(n)
    phi = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    ct = x[:, None]
    st = np.sqrt(1 - ct**2)
    dirs = np.stack([st * np.cos(phi), st * np.sin(phi), np.broadcast_to(ct, (n, 2 * n))], -1)
    weights = wx[:, None] * np.full(2 * n, 2 * np.pi / (2 * n))
    return dirs, weights


def test_radon_transform_against_monte_carlo_projection():
    # f^(w, q) is the density of v.q for lab velocities v = u - v_E, u drawn from the truncated
    # Maxwellian: sample it (seeded), histogram the projection, compare (independent of the closed form)
    v0, vesc = 238.0, 544.0
    ve = np.array([30.0, 240.0, -20.0])
    q = np.array([0.3, -0.8, 0.52])
    q /= np.linalg.norm(q)
    rng = np.random.default_rng(20)
    u_gal = rng.normal(scale=v0 / math.sqrt(2), size=(3_000_000, 3))
    u_gal = u_gal[np.einsum("ij,ij->i", u_gal, u_gal) < vesc**2]
    proj = (u_gal - ve) @ q
    edges = np.arange(-700.0, 701.0, 20.0)
    counts, _ = np.histogram(proj, edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    density = counts / (len(proj) * 20.0)
    # closed form averaged over each bin (Simpson on 5 points)
    fine = np.linspace(-10, 10, 5)
    closed = (
        np.mean(radon_shm_kms(centres[:, None] + fine, q @ ve, v0, vesc) * [1, 4, 2, 4, 1], axis=1)
        * 5
        / 12
    )
    live = counts > 2000
    # tolerance: 5 sigma of the Poisson count in each bin (<= 11 % at 2000 counts, ~1 % at the peak)
    sigma = np.sqrt(counts[live]) / (len(proj) * 20.0)
    assert np.all(np.abs(density[live] - closed[live]) < 5 * sigma)
    assert abs(np.sum(radon_shm_kms(centres, q @ ve, v0, vesc)) * 20.0 - 1.0) < 1e-3


@pytest.mark.parametrize("target", ["Xe", "Ge"])
def test_sphere_integral_gives_the_nondirectional_spectrum(target):
    e = np.array([1.0, 10.0, 30.0, 60.0]) * u.keV
    dirs, wts = _sphere_grid(48)
    d2 = d2r_de_domega(e, 50 * u.GeV, SIGMA, dirs, T0, target)
    assert d2.unit == u.Unit("1 / (keV kg d sr)")
    total = np.einsum("ij,ijk->k", wts, d2.value)
    # tolerance 1e-4 relative: the 48x96 angular quadrature against the closed-form eta
    np.testing.assert_allclose(total, dr_de(e, 50 * u.GeV, SIGMA, target, time=T0).value, rtol=1e-4)


def test_peak_points_away_from_cygnus_and_is_the_grid_maximum():
    peak = peak_recoil_direction(T0)
    deneb = SkyCoord(ra="20h41m25.9s", dec="+45d16m49s", frame="icrs")  # alpha Cyg (Hipparcos)
    origin = SkyCoord(l=peak.l + 180 * u.deg, b=-peak.b, frame="galactic")
    assert origin.separation(deneb) < 10 * u.deg  # the wind comes from Cygnus...
    assert peak.separation(deneb) > 170 * u.deg  # ...and recoils go the other way
    dirs, _ = _sphere_grid(64)
    # 60 keV on Xe at 100 GeV: v_min = 330 km/s > v_E, so f^ peaks at q = -v_E exactly
    d2 = d2r_de_domega(np.array([60.0]) * u.keV, 100 * u.GeV, SIGMA, dirs, T0).value[..., 0]
    i, j = np.unravel_index(np.argmax(d2), d2.shape)
    assert _galactic(dirs[i, j]).separation(peak) < 5 * u.deg  # grid spacing ~3 deg


def test_low_energy_recoils_form_a_ring():
    # for v_min < v_E the maximum is the ring q.v_E = -v_min (Bozorgnia, Gelmini, Gondolo 2012)
    tgt = T.Target(name="Ge73", elements=(("Ge", (T.Isotope(73, 72.923459, 1.0),), 1.0),))
    vmin = vmin_nuclear(5.0 * u.keV, 100 * u.GeV, tgt).to_value(u.km / u.s)[0]
    ve = earth_velocity(T0).to_value(u.km / u.s)
    dirs, _ = _sphere_grid(96)
    d2 = d2r_de_domega(np.array([5.0]) * u.keV, 100 * u.GeV, SIGMA, dirs, T0, tgt).value[..., 0]
    i, j = np.unravel_index(np.argmax(d2), d2.shape)
    angle = _galactic(dirs[i, j]).separation(peak_recoil_direction(T0)).deg
    assert angle == pytest.approx(math.degrees(math.acos(vmin / np.linalg.norm(ve))), abs=3.0)


def test_daily_rotation_is_sidereal_and_matches_geometry():
    times = sidereal_day_times(T0, 48)
    aa = recoil_direction_altaz(LNGS, times)
    # the wind origin (antipode of the peak) culminates at 90 - |lat - dec| (spherical geometry)
    dec = peak_recoil_direction(T0).icrs.dec.deg * -1
    top = -aa.alt.deg.min()
    assert top == pytest.approx(
        90 - abs(42.42 - dec), abs=1.0
    )  # 7.5 deg time steps, 0.3 deg annual drift

    def lab(t):  # the lab-frame direction as plain spherical angles (az, alt)
        c = recoil_direction_altaz(LNGS, t)
        return SkyCoord(c.az, c.alt, frame="icrs")

    # v_E itself turns by ~(30/250) deg a day with the orbit, hence 0.2 deg
    assert lab(T0 + SIDEREAL_DAY).separation(lab(T0)) < 0.2 * u.deg
    # a solar day later the sky has turned ~0.99 deg further (x cos of the declination)
    assert lab(T0 + 1 * u.day).separation(lab(T0)) > 0.45 * u.deg


def test_daily_modulation_along_a_lab_axis():
    times = sidereal_day_times(T0, 12)
    e = np.array([10.0, 30.0]) * u.keV
    r = daily_modulation(e, 50 * u.GeV, SIGMA, LNGS, times)
    assert r.shape == (12, 2)
    assert r.unit == u.Unit("1 / (keV kg d sr)")
    assert r[:, 0].max() > 3 * r[:, 0].min()  # a strong daily modulation along the east axis
    # each row is d2R/dEdOmega at that time along the axis converted to Galactic axes
    from astropy.coordinates import AltAz

    k = 5
    axis = SkyCoord(
        alt=0 * u.deg, az=90 * u.deg, frame=AltAz(obstime=times[k], location=LNGS)
    ).galactic
    d2 = d2r_de_domega(e, 50 * u.GeV, SIGMA, axis.cartesian.xyz.value, times[k])
    np.testing.assert_allclose(r[k].value, d2.value, rtol=1e-9)
    assert np.all(np.isfinite(earth_velocity(times).value))


def test_bad_input():
    e = np.array([10.0]) * u.keV
    with pytest.raises(ShapeError):
        d2r_de_domega(e, 50 * u.GeV, SIGMA, np.ones((4, 2)), T0)
    with pytest.raises(NonPhysicalValueError):
        d2r_de_domega(e, 50 * u.GeV, SIGMA, np.zeros(3), T0)
    with pytest.raises(UnknownNameError, match="shm"):
        d2r_de_domega(e, 50 * u.GeV, SIGMA, np.array([1.0, 0, 0]), T0, halo="shmpp2019")
    with pytest.raises(OutOfRangeError, match="time steps"):
        sidereal_day_times(T0, 1)
    with pytest.raises(NonPhysicalValueError, match="altitude"):
        daily_modulation(
            e, 50 * u.GeV, SIGMA, LNGS, sidereal_day_times(T0, 3), axis_alt=120 * u.deg
        )
