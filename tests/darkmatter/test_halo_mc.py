"""Halo Monte Carlo: consistent Earth speed per draw, vectorised reach = per-draw loop (#20)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from scipy import stats

from acie.darkmatter.formfactor.shipped import shipped_table
from acie.darkmatter.halo import earth_speed
from acie.darkmatter.halo_mc import consistent_earth_speed, electron_reach_draws
from acie.darkmatter.halo_parameters import resolve_halo
from acie.darkmatter.reach import electron_reach
from acie.darkmatter.uncertainty import sample_halo_arrays, sample_halos

DISTS = {"v0": stats.norm(238, 10), "vesc": stats.norm(544, 30), "rho": stats.norm(0.3, 0.05)}


def test_sampled_halos_move_the_earth_speed_with_v0():
    h = resolve_halo("baxter2021")
    halos = sample_halos(h, DISTS, 50, seed=1)
    v0 = np.array([x.v0.value for x in halos])
    ve = np.array([x.v_earth.value for x in halos])
    assert np.ptp(ve) > 10.0  # was one fixed v_E for every draw
    # independent: the year-average of |v_E(t)| from the halo model, anchored at the set's v_E
    from astropy.time import Time

    times = Time("2025-01-01") + np.linspace(0, 365.25, 96, endpoint=False) * u.day
    base_mean = earth_speed(times, h).value.mean()
    for i in (0, 7, 31):
        mean_i = earth_speed(times, halos[i]).value.mean()
        assert ve[i] == pytest.approx(h.v_earth.value + mean_i - base_mean, abs=1e-6)
    assert np.corrcoef(v0, ve)[0, 1] > 0.99
    assert consistent_earth_speed(238.0, h) == pytest.approx(250.2)
    fixed = sample_halos(h, DISTS, 5, seed=1, consistent_earth=False)
    assert {x.v_earth.value for x in fixed} == {250.2}


def test_vectorised_reach_equals_the_per_draw_loop():
    t = shipped_table("Si")
    h = resolve_halo("baxter2021")
    masses = np.geomspace(2, 1000, 8) * u.MeV
    arr = sample_halo_arrays(h, DISTS, 40, seed=3)
    halos = sample_halos(h, DISTS, 40, seed=3)
    s = electron_reach_draws(
        t, masses, 1 * u.kg * u.yr, arr, base=h, signal_limit=2.302585, ne_threshold=2
    ).to_value(u.cm**2)
    assert s.shape == (40, 8)
    for i in (0, 11, 39):
        ref = electron_reach(
            t, masses, 1 * u.kg * u.yr, ne_threshold=2, halo=halos[i], warn_beyond=None
        ).cross_section.to_value(u.cm**2)
        np.testing.assert_allclose(s[i], ref, rtol=1e-2)
        np.testing.assert_allclose(s[i, 2:], ref[2:], rtol=2e-3)


def test_vectorised_nuclear_reach_equals_the_per_draw_loop():
    from acie.darkmatter.halo_mc import nuclear_reach_draws
    from acie.darkmatter.reach import nuclear_reach

    h = resolve_halo("baxter2021")
    masses = np.geomspace(8, 1000, 6) * u.GeV
    arr = sample_halo_arrays(h, DISTS, 20, seed=5)
    halos = sample_halos(h, DISTS, 20, seed=5)
    s = nuclear_reach_draws(
        masses, 1 * u.kg * u.yr, arr, signal_limit=2.302585, target="Ge", base=h
    ).to_value(u.cm**2)
    for i in (0, 19):
        ref = nuclear_reach(
            masses, 1 * u.kg * u.yr, target="Ge", halo=halos[i]
        ).cross_section.to_value(u.cm**2)
        np.testing.assert_allclose(s[i], ref, rtol=2e-3)


def test_shmpp_draws_match_the_loop():
    t = shipped_table("Si")
    h = resolve_halo("shmpp2019")
    masses = np.geomspace(5, 1000, 4) * u.MeV
    dists = {"v0": stats.norm(233, 10)}
    arr = sample_halo_arrays(h, dists, 3, seed=2)
    halos = sample_halos(h, dists, 3, seed=2)
    s = electron_reach_draws(
        t, masses, 1 * u.kg * u.yr, arr, base=h, signal_limit=2.302585
    ).to_value(u.cm**2)
    for i in range(3):
        ref = electron_reach(
            t, masses, 1 * u.kg * u.yr, halo=halos[i], warn_beyond=None
        ).cross_section.to_value(u.cm**2)
        np.testing.assert_allclose(s[i], ref, rtol=3e-3)
