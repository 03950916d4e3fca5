"""The stream component (S1) of the halo catalogue and the halo Monte Carlo (#20)."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest

from acie.darkmatter import halo_mc
from acie.darkmatter.halo_catalogue import get_catalogue_entry, load_catalogue
from acie.darkmatter.halo_mc import eta_shm_draws, nuclear_reach_draws
from acie.darkmatter.stream import (
    Stream,
    eta_stream_draws,
    eta_stream_isotropic,
    eta_stream_mc,
)
from acie.errors import DataFormatError, InputValidationError, NonPhysicalValueError

VE = np.array([[11.1, 250.0, 7.25]])
S1_V = np.array([[-29.5, -297.2, -73.0]])
S1_SIG = np.array([[82.7, 26.8, 58.5]])
PEC = np.array([11.1, 12.24, 7.25])


@pytest.mark.parametrize("sigma", [27.0, 82.0, 150.0])
def test_isotropic_stream_matches_the_closed_form(sigma):
    vmin = np.linspace(0.0, 900.0, 181)
    ref = eta_stream_isotropic(vmin, float(np.linalg.norm(S1_V - VE)), sigma)
    got = eta_stream_draws(vmin, VE, S1_V, np.full((1, 3), sigma))[:, 0]
    keep = ref > 1e-4 * ref.max()
    # measured <= 2e-6 at sigma = 27 km/s (40 x 16 directions); tolerance 1e-4
    np.testing.assert_allclose(got[keep], ref[keep], rtol=1e-4)
    assert np.all(np.abs(got[~keep]) < 2e-4 * ref.max())


def test_anisotropic_stream_matches_a_brute_force_monte_carlo():
    # independent estimate: 2e6 seeded Gaussian velocities, eta = <1/|v| ; |v| > vmin>
    rng = np.random.default_rng(20)
    v = rng.normal(S1_V[0] - VE[0], S1_SIG[0], size=(2_000_000, 3))
    speed = np.linalg.norm(v, axis=1)
    vmin = np.array([0.0, 300.0, 450.0, 550.0, 600.0])
    mc = np.array([np.mean(np.where(speed > x, 1.0 / speed, 0.0)) for x in vmin])
    got = eta_stream_draws(vmin, VE, S1_V, S1_SIG)[:, 0]
    # MC standard error < 0.3 % at these points; tolerance 1 %
    np.testing.assert_allclose(got, mc, rtol=0.01)
    # the counter-rotating S1 is fast in the lab: above the SHM eta at 600 km/s (x3.2)
    shm = eta_shm_draws(np.array([600.0]), [233.0], [528.0], [250.0])[0, 0]
    assert got[4] > 2 * shm


def test_interpolated_draws_match_every_draw_evaluated():
    e = get_catalogue_entry("shm+S1")
    d = e.draws(40, seed=3)
    nodes = np.linspace(0.0, 800.0, 161)
    fast = eta_stream_mc(nodes, d, PEC)
    sun = np.zeros((40, 3)) + PEC
    sun[:, 1] += d["v0"]
    vec = sun * (d["v_earth"] / np.linalg.norm(sun, axis=1))[:, None]
    exact = eta_stream_draws(nodes, vec, d["stream_v"], d["stream_sigma"])
    # linear in v0 between 9 nodes: <= 0.2 % of the peak measured; tolerance 0.5 %
    assert np.max(np.abs(fast - exact)) < 5e-3 * exact.max()


def test_stream_fraction_enters_the_reach_linearly_and_zero_is_no_stream():
    e = get_catalogue_entry("shm+S1")
    h = e.halo()
    d = e.draws(12, seed=5)
    masses = [5.0, 10.0, 50.0] * u.GeV
    kw = dict(signal_limit=2.3, target="Xe", e_min=1 * u.keV, base=h, n_nodes=16)
    plain = {k: d[k] for k in ("v0", "vesc", "v_earth", "rho")}
    none = nuclear_reach_draws(masses, 1 * u.kg * u.yr, plain, **kw).value
    zero = nuclear_reach_draws(masses, 1 * u.kg * u.yr, d | {"stream_fraction": 0 * d["v0"]}, **kw)
    np.testing.assert_allclose(zero.value, none, rtol=1e-12)
    one = nuclear_reach_draws(
        masses, 1 * u.kg * u.yr, d | {"stream_fraction": 0 * d["v0"] + 1}, **kw
    )
    mixed = nuclear_reach_draws(masses, 1 * u.kg * u.yr, d, **kw).value
    f = d["stream_fraction"][:, None]
    np.testing.assert_allclose(1 / mixed, (1 - f) / none + f / one.value, rtol=1e-10)
    # S1 is fast: at 5 GeV a pure-stream halo reaches further than the SHM
    assert np.all(one.value[:, 0] < none[:, 0])


def test_catalogue_entry_draws_are_seeded_and_leave_the_halo_draws_alone():
    e = get_catalogue_entry("shm+S1")
    assert e.stream is not None
    assert e.stream.name == "S1"
    assert "O'Hare" in e.citation
    assert "stream S1" in e.uncertainty_text()
    a, b = e.draws(50, seed=9), e.draws(50, seed=9)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert np.all((a["stream_fraction"] >= 0) & (a["stream_fraction"] <= 0.2))
    round_halo = get_catalogue_entry("shmpp2019-round").draws(50, seed=9)
    np.testing.assert_array_equal(a["v0"], round_halo["v0"])
    central = e.draws(4, seed=9, only=("v0",))
    np.testing.assert_array_equal(central["stream_fraction"], np.full(4, 0.1))


def test_bad_streams_are_typed_errors(tmp_path):
    spec = {
        "sets": [
            {
                "name": "bad",
                "base": "baxter2021",
                "model": "shm",
                "parameters": {},
                "stream": {"name": "X", "velocity": {"value": [1, 2], "unit": "km/s"}},
            }
        ]
    }
    f = tmp_path / "cat.json"
    f.write_text(json.dumps(spec))
    with pytest.raises(DataFormatError, match="stream"):
        load_catalogue(f)
    with pytest.raises(NonPhysicalValueError, match="dispersion"):
        Stream("Y", (0.0, 0.0, 0.0), (10.0, -1.0, 10.0), 0.1)
    with pytest.raises(NonPhysicalValueError, match="fraction"):
        Stream("Y", (0.0, 0.0, 0.0), (10.0, 10.0, 10.0), 1.5)
    d = get_catalogue_entry("shm+S1").draws(4, seed=0)
    with pytest.raises(InputValidationError, match="stream_v"):
        halo_mc._check_draws(d | {"stream_v": np.zeros((4, 2))})
    with pytest.raises(InputValidationError, match="v_earth, stream_v"):
        eta_stream_draws([0.0], VE, S1_V, np.zeros((2, 3)) + 1)


def test_budget_takes_a_stream_set_and_the_per_draw_peer_refuses_it():
    """The budget carries the stream (tests/darkmatter/test_budget.py); the peer cannot."""
    from acie.darkmatter.budget import _entry, budget_reach_loop
    from acie.darkmatter.formfactor.shipped import shipped_table

    assert _entry("shm+S1").stream is not None
    d = get_catalogue_entry("shm+S1").draws(2, seed=0)
    with pytest.raises(InputValidationError, match="stream S1"):
        budget_reach_loop(
            shipped_table("Si"), [10.0] * u.MeV, 1 * u.kg * u.yr, d, np.ones((2, 1)),
            signal_limit=2.3, halo="shm+S1",
        )  # fmt: skip


def _with_kinematics(tmp_path, v_sigma, s_sigma, fraction=None):
    """The shipped shm+S1 set with stated velocity / dispersion uncertainties (test data)."""
    spec = _shipped_spec("shm+S1")
    st = spec["stream"]
    if v_sigma is not None:
        st["velocity"]["uncertainty"] = {"kind": "normal", "sigma": v_sigma}
    if s_sigma is not None:
        st["dispersion"]["uncertainty"] = {"kind": "normal", "sigma": s_sigma}
    if fraction is not None:
        st["fraction"] = {"value": fraction, "unit": ""}
    f = tmp_path / "cat.json"
    f.write_text(json.dumps({"sets": [spec]}))
    return load_catalogue(f)["shm+S1"]


def _shipped_spec(name):
    from importlib import resources

    f = resources.files("acie.darkmatter") / "data" / "halo_catalogue" / "halo_catalogue.json"
    return next(s for s in json.loads(f.read_text())["sets"] if s["name"] == name)


def test_stream_kinematics_are_drawn_with_their_stated_widths(tmp_path):
    e = _with_kinematics(tmp_path, [20.0, 10.0, 15.0], [8.0, 5.0, 6.0])
    assert e.stream_sources() == ("stream_fraction", "stream_v", "stream_sigma")
    assert "-297.2 ± 10" in e.uncertainty_text()
    n = 20000
    d = e.draws(n, seed=4)
    for key, mean, sd in (
        ("stream_v", S1_V[0], [20.0, 10.0, 15.0]),
        ("stream_sigma", S1_SIG[0], [8.0, 5.0, 6.0]),
    ):
        # means within 4 standard errors, widths within 4 % (sampling error ~0.5 %)
        assert np.all(np.abs(d[key].mean(axis=0) - mean) < 4 * np.asarray(sd) / np.sqrt(n))
        np.testing.assert_allclose(d[key].std(axis=0), sd, rtol=0.04)
    assert np.all(d["stream_sigma"] > 0)
    # seeded, and the halo and fraction draws are those of the set without the widths
    same = get_catalogue_entry("shm+S1").draws(n, seed=4)
    for k in ("v0", "vesc", "v_earth", "rho", "stream_fraction"):
        np.testing.assert_array_equal(d[k], same[k])
    np.testing.assert_array_equal(d["stream_v"], e.draws(n, seed=4)["stream_v"])
    held = e.draws(5, seed=4, only=("v0",))
    np.testing.assert_array_equal(held["stream_v"], np.repeat(S1_V, 5, axis=0))
    # a dispersion whose width allows negative values is truncated at 0 (redrawn)
    wide = _with_kinematics(tmp_path, None, [60.0, 60.0, 60.0]).draws(4000, seed=1)
    assert np.all(wide["stream_sigma"] > 0)


def test_the_rate_spread_grows_when_the_stream_kinematics_are_drawn(tmp_path):
    e = _with_kinematics(tmp_path, [20.0, 10.0, 15.0], [8.0, 5.0, 6.0], fraction=0.2)
    fixed = _with_kinematics(tmp_path, None, None, fraction=0.2)
    h = e.halo()
    masses = [5.0, 8.0, 30.0] * u.GeV
    kw = dict(signal_limit=2.3, target="Xe", e_min=1 * u.keV, base=h, n_nodes=16)
    spread = []
    for entry in (fixed, e):
        d = entry.draws(60, seed=2)
        s = nuclear_reach_draws(masses, 1 * u.kg * u.yr, d, **kw).value
        spread.append(np.std(np.log10(s), axis=0))
    # at 5 GeV the fast stream carries most of the rate: its kinematics widen the spread
    # (0.15 -> 0.22 dex measured); at 8 and 30 GeV the halo dominates and it barely changes
    assert spread[1][0] > 1.3 * spread[0][0]
    assert np.all(spread[1] > 0.98 * spread[0])
    # without halo uncertainties the spread is only the stream's: 0 when fixed
    solo = _with_kinematics(tmp_path, [20.0, 10.0, 15.0], None, fraction=0.2)
    d = solo.draws(30, seed=3, only=("stream_v",))
    s = nuclear_reach_draws(masses, 1 * u.kg * u.yr, d, **kw).value
    assert np.all(np.std(np.log10(s), axis=0) > 0.0)
    assert np.std(np.log10(s[:, 0])) > 0.05  # 0.097 dex measured at 5 GeV
    d0 = fixed.draws(30, seed=3, only=("stream_v",))
    s0 = nuclear_reach_draws(masses, 1 * u.kg * u.yr, d0, **kw).value
    assert np.all(np.ptp(s0, axis=0) == 0)


def test_bad_stream_kinematic_uncertainties_are_typed_errors(tmp_path):
    with pytest.raises(DataFormatError, match="velocity uncertainty"):
        _with_kinematics(tmp_path, [20.0, 10.0], None)
    with pytest.raises(DataFormatError, match="dispersion"):
        _with_kinematics(tmp_path, None, [1.0, -2.0, 3.0])
