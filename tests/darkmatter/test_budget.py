"""Systematic budget of the reach: shares, zero-spread sources, vectorised vs per-draw loop (#20)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from acie.darkmatter.budget import (
    budget_reach_loop,
    counting_function,
    plot_budget,
    reach_budget,
)
from acie.darkmatter.formfactor.shipped import shipped_table
from acie.darkmatter.formfactor_systematics import (
    FormFactorSystematic,
    draw_scalings,
    formfactor_systematics,
)
from acie.darkmatter.halo_catalogue import CatalogueEntry, Normal, get_catalogue_entry
from acie.errors import InputValidationError

MASSES = np.geomspace(5.0, 500.0, 6) * u.MeV
EXPO = 1.0 * u.kg * u.yr
S_UP = 2.303


@pytest.fixture(scope="module")
def si():
    return shipped_table("Si")


@pytest.fixture(scope="module")
def budget(si):
    return reach_budget(si, MASSES, EXPO, signal_limit=S_UP, n_draws=400, seed=5)


def test_shares_sum_to_one_and_unestimated_sources_get_zero(budget):
    sh = budget.shares
    assert np.allclose(np.sum([sh[s] for s in budget.sources], axis=0), 1.0, atol=1e-12)
    for s in budget.sources:
        assert np.all((sh[s] >= 0) & (sh[s] <= 1))
    # no second functional and no f2_uncertainty ship for Si: exactly zero variance, zero share
    assert not budget.settings["systematics_available"]["functional"]
    assert np.all(sh["functional"] == 0)
    assert np.all(sh["table uncertainty"] == 0)
    # rho acts as 1/rho on the reach: its variance is that of log10 rho over the draws
    d = get_catalogue_entry("shmpp2019-round").draws(400, seed=5)
    assert budget.variance["halo rho"] == pytest.approx(np.var(np.log10(d["rho"])), rel=1e-9)
    # independent, nearly multiplicative sources: first-order decomposition nearly exact
    assert np.all(np.abs(budget.additivity - 1) < 0.05)


def test_a_halo_parameter_with_zero_spread_gets_zero_share(si):
    entry = CatalogueEntry(
        name="test",
        model="shm",
        base="baxter2021",
        citation="test",
        description="",
        values={"v0": 233.0, "vesc": 528.0, "rho": 0.55},
        distributions={"v0": Normal(233.0, 3.0), "vesc": Normal(528.0, 0.0)},
    )
    none = [
        FormFactorSystematic(source=s, rel_sigma=np.zeros(MASSES.size), available=False, basis="")
        for s in ("convergence", "functional", "table uncertainty")
    ]
    b = reach_budget(si, MASSES, EXPO, signal_limit=S_UP, halo=entry, n_draws=50, systematics=none)
    assert np.all(b.shares["halo vesc"] == 0)
    assert np.allclose(b.shares["halo v0"], 1.0)
    # v0 alone: the joint variance is the v0 variance
    assert np.allclose(b.variance_all, b.variance["halo v0"], rtol=1e-9)


def test_vectorised_agrees_with_the_per_draw_loop(si):
    n, seed = 40, 2
    b = reach_budget(si, MASSES, EXPO, signal_limit=S_UP, n_draws=n, seed=seed)
    entry = get_catalogue_entry("shmpp2019-round")
    d = entry.draws(n, seed=seed)
    counts = counting_function(MASSES, EXPO, entry, signal_limit=S_UP)
    scal = draw_scalings(formfactor_systematics(si, counts), n, seed=seed + 1)
    prod = np.prod(list(scal.values()), axis=0)
    k = slice(0, 3)
    loop = budget_reach_loop(
        si, MASSES, EXPO, {key: v[k] for key, v in d.items()}, prod[k], signal_limit=S_UP
    )
    assert np.allclose(b.samples.to_value(u.cm**2)[k], loop, rtol=1e-2)


def test_budget_plot_and_bad_halo(budget, si):
    fig = plot_budget(budget)
    assert len(fig.axes) == 2
    beta = CatalogueEntry(
        name="beta",
        model="shm++",
        base="shmpp2019",
        citation="test",
        description="",
        values={"beta": 0.9},
        distributions={"beta": Normal(0.9, 0.05)},
    )
    with pytest.raises(InputValidationError, match="for the budget"):
        reach_budget(si, MASSES, EXPO, signal_limit=S_UP, halo=beta, n_draws=4)


def _with(table, factor, **settings):
    from dataclasses import replace

    meta = {**table.metadata, "settings": {**table.metadata.get("settings", {}), **settings}}
    return replace(table, f2=table.f2 * factor, metadata=meta)


def test_each_formfactor_source_from_constructed_tables(si):
    from acie.darkmatter.formfactor_systematics import (
        convergence_spread,
        functional_spread,
        table_uncertainty_spread,
    )

    def counts(t):
        return np.full(3, float(t.f2.sum()))

    # functional: a table with another xc and 1.3x the strength -> 0.3 at every mass
    f = functional_spread(si, counts, others={"pbe0": _with(si, 1.3, xc="pbe0")})
    assert f.available
    assert np.allclose(f.rel_sigma, 0.3)
    # table uncertainty: sigma_f2 = 0.2 f2 -> 0.2
    t = table_uncertainty_spread(si, _with(si, 0.2), counts)
    assert np.allclose(t.rel_sigma, 0.2)
    # convergence: 2x2x2 -> 3x3x3 -> 4x4x4 with rates 2.0, 1.2, 1.0; a 3x3x3 table takes the
    # step to 4x4x4 (|1.2/1.0 - 1| = 0.2), a 4x4x4 table the last step too
    series = {
        "2": _with(si, 2.0, kmesh=[2, 2, 2]),
        "3": _with(si, 1.2, kmesh=[3, 3, 3]),
        "4": _with(si, 1.0, kmesh=[4, 4, 4]),
    }
    c = convergence_spread(_with(si, 1.0, kmesh=[3, 3, 3]), counts, series=series)
    assert np.allclose(c.rel_sigma, 0.2)
    c = convergence_spread(_with(si, 1.0, kmesh=[2, 2, 2]), counts, series=series)
    assert np.allclose(c.rel_sigma, abs(2.0 / 1.2 - 1))
    # seeded log-normal scalings: median 1, ln s has sd ln(1 + sigma)
    s = draw_scalings([f], 20000, seed=4)["functional"]
    assert np.std(np.log(s[:, 0])) == pytest.approx(np.log(1.3), rel=0.03)
    assert np.array_equal(s, draw_scalings([f], 20000, seed=4)["functional"])


def test_shmpp_budget_is_linear_in_the_sausage_fraction(si):
    from acie.darkmatter.reach import electron_reach

    m = MASSES[2:4]
    b = reach_budget(si, m, EXPO, signal_limit=S_UP, halo="shmpp2019", n_draws=3, seed=0)
    # the mixture (1 - f)/σ_round + f/σ_sausage reproduces the SHM++ reach of the halo module
    h = get_catalogue_entry("shmpp2019").halo()
    r = electron_reach(si, m, EXPO, halo=h, warn_beyond=None)
    ref = r.cross_section.to_value(u.cm**2) * S_UP / r.signal_limit
    assert np.allclose(b.central.to_value(u.cm**2), ref, rtol=2e-3)
    assert "halo sausage_fraction" in b.sources
    assert np.all(b.variance["halo sausage_fraction"] > 0)
    assert np.allclose(np.sum(list(b.shares.values()), axis=0), 1.0)


@pytest.fixture(scope="module")
def s1_budget(si):
    return reach_budget(si, MASSES, EXPO, signal_limit=S_UP, halo="shm+S1", n_draws=300, seed=5)


def test_a_stream_set_gives_the_stream_fraction_a_share(s1_budget, si):
    from acie.darkmatter.halo_mc import electron_reach_draws

    b = s1_budget
    assert "halo stream_fraction" in b.sources
    sh = b.shares
    assert np.all(sh["halo stream_fraction"] > 0)
    assert np.allclose(np.sum([sh[s] for s in b.sources], axis=0), 1.0, atol=1e-12)
    # the fast S1 matters most near threshold: its share falls with mass (0.13 -> 0.04)
    assert sh["halo stream_fraction"][0] > 2 * sh["halo stream_fraction"][-1]
    assert "stream S1" in b.basis["halo stream_fraction"]
    # the budget mixes counts, 1/σ = (1 - f)/σ_halo + f/σ_S1; the halo Monte Carlo mixes η:
    # at the central set they agree to round-off (same v_min grid)
    e = get_catalogue_entry("shm+S1")
    d = e.draws(2, seed=0, only=())
    direct = electron_reach_draws(si, MASSES, EXPO, d, base=e.halo(), signal_limit=S_UP)
    np.testing.assert_allclose(b.central.value, direct.value[0], rtol=1e-10)


def test_a_stream_fraction_pinned_at_zero_is_the_plain_shm_budget(si):
    from dataclasses import replace

    from acie.darkmatter.halo_catalogue import Uniform

    s1 = get_catalogue_entry("shm+S1")
    assert s1.stream is not None
    pinned = replace(s1, stream=replace(s1.stream, fraction=0.0), stream_fraction=Uniform(0.0, 0.0))
    kw = dict(signal_limit=S_UP, n_draws=120, seed=7)
    b0 = reach_budget(si, MASSES, EXPO, halo=pinned, **kw)
    plain = reach_budget(si, MASSES, EXPO, halo="shmpp2019-round", **kw)
    assert b0.sources == (*plain.sources[:3], "halo stream_fraction", *plain.sources[3:])
    assert np.all(b0.variance["halo stream_fraction"] == 0)
    np.testing.assert_allclose(b0.central.value, plain.central.value, rtol=1e-12)
    np.testing.assert_allclose(b0.samples.value, plain.samples.value, rtol=1e-12)
    for s in plain.sources:
        np.testing.assert_allclose(b0.variance[s], plain.variance[s], rtol=1e-9, atol=1e-18)
        np.testing.assert_allclose(b0.shares[s], plain.shares[s], rtol=1e-9, atol=1e-15)
    # without a fraction uncertainty the stream is no source at all
    fixed = reach_budget(si, MASSES, EXPO, halo=replace(pinned, stream_fraction=None), **kw)
    assert fixed.sources == plain.sources


def test_drawn_stream_kinematics_are_budget_sources(si):
    from dataclasses import replace

    from acie.darkmatter.halo_catalogue import Normal

    s1 = get_catalogue_entry("shm+S1")
    assert s1.stream is not None
    vel = tuple(Normal(v, w) for v, w in zip(s1.stream.velocity, (20.0, 10.0, 15.0), strict=True))
    disp = tuple(Normal(v, w) for v, w in zip(s1.stream.dispersion, (8.0, 5.0, 6.0), strict=True))
    e = replace(s1, stream_velocity=vel, stream_dispersion=disp)  # test widths, not data
    b = reach_budget(si, MASSES[:3], EXPO, signal_limit=S_UP, halo=e, n_draws=40, seed=1)
    assert {"halo stream_v", "halo stream_sigma", "halo stream_fraction"} <= set(b.sources)
    assert np.all(b.shares["halo stream_v"] > 0)
    assert np.all(b.shares["halo stream_sigma"] > 0)
    assert np.allclose(np.sum(list(b.shares.values()), axis=0), 1.0)
    # the joint run draws the kinematics: wider than the fixed-kinematics budget (same seed)
    fixed = reach_budget(si, MASSES[:3], EXPO, signal_limit=S_UP, halo=s1, n_draws=40, seed=1)
    assert b.variance_all[0] > fixed.variance_all[0]


def test_cli_budget_with_the_s1_stream_prints_its_share():
    import json

    from typer.testing import CliRunner

    from acie.cli.main import app
    from acie.errors import AcieError

    runner = CliRunner()
    base = ["dm", "reach", "-f", "Si", "--budget", "60", "--n-masses", "3", "--mass-min", "5"]
    r = runner.invoke(app, [*base, "--halo", "shm+S1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["halo"] == "shm+S1"
    assert all(row["share halo stream_fraction"] > 0 for row in out["rows"])
    r = runner.invoke(app, [*base, "--budget-halo", "shm+S1"])
    assert r.exit_code == 0, r.output
    assert "stream_fraction" in r.output
    assert "stream S1" in r.output
    r = runner.invoke(app, [*base, "--halo", "shm+S1", "--budget-halo", "baxter2021"])
    assert isinstance(r.exception, AcieError)
    assert "one set" in str(r.exception)
    r = runner.invoke(app, [*base, "--halo", "qedark2016"])
    assert isinstance(r.exception, AcieError)
    assert "catalogue set" in str(r.exception)


def test_shipped_kmesh_series_are_dft_tables_only():
    """The k-mesh series holds each DFT run once: the extended Ge.h5 (valence DFT + atomic
    shells, same settings label as Ge_valence.h5) must not stand in for its DFT part, and
    CsI has its own 2x2x2 -> 3x3x3 series (no longer transferred from Ge)."""
    from acie.darkmatter.formfactor_systematics import convergence_spread, shipped_series

    ge = shipped_series("Ge")
    assert all("atomic_shells" not in t.metadata["settings"] for t in ge.values())
    assert float(ge["4x4x4/gth-dzvp-molopt-sr/pbe"].q_keV[-1]) < 15.0  # q < 4 α mₑ
    csi = shipped_series("CsI")
    assert sorted(csi) == ["2x2x2/gth-dzvp-molopt-sr/pbe", "3x3x3/gth-dzvp-molopt-sr/pbe"]
    counts = lambda t: np.atleast_1d(float(np.sum(t.f2)))  # noqa: E731
    c = convergence_spread(shipped_table("CsI"), counts)
    assert c.available
    assert c.transferred_from is None


def test_shipped_germanium_has_a_functional_spread_from_its_pbe_table():
    """Ge ships PBE0@PBE (default) and PBE at 4x4x4: the functional source is their spread,
    and the k-mesh series stays one functional (the PBE tables), not a mix."""
    from acie.darkmatter.electron import total_rate
    from acie.darkmatter.formfactor import shipped_table
    from acie.darkmatter.formfactor.io import read_acie
    from acie.darkmatter.formfactor.shipped import shipped_table_path
    from acie.darkmatter.formfactor_systematics import (
        convergence_spread,
        functional_spread,
        shipped_series,
    )

    labels = set(shipped_series("Ge"))
    assert "4x4x4/gth-dzvp-molopt-sr/pbe0@pbe" in labels
    assert "4x4x4/gth-dzvp-molopt-sr/pbe" in labels
    masses = [1, 10, 1000] * u.MeV

    def counts(t):
        return total_rate(t, masses, 1e-37 * u.cm**2).value

    ge = read_acie(shipped_table_path("Ge").parent / "Ge_valence.h5")
    pbe = read_acie(shipped_table_path("Ge").parent / "Ge_4x4x4_pbe.h5")
    f = functional_spread(ge, counts)
    assert f.available
    assert "4x4x4/gth-dzvp-molopt-sr/pbe:" in f.basis
    np.testing.assert_allclose(f.rel_sigma, np.abs(counts(pbe) / counts(ge) - 1), rtol=1e-12)
    c = convergence_spread(shipped_table("Ge"), counts)
    assert "pbe0@pbe" not in c.basis  # the k-mesh series is the PBE one
    assert "3x3x3/gth-dzvp-molopt-sr/pbe → 4x4x4/gth-dzvp-molopt-sr/pbe" in c.basis


def test_functional_spread_of_an_extended_table_changes_only_its_dft_part():
    """The default Ge = DFT valence (PBE0@PBE) + atomic shells: swapping the functional
    swaps the DFT part, so the spread is |c(PBE) − c(PBE0@PBE)| over c(Ge.h5)."""
    from acie.darkmatter.electron import total_rate
    from acie.darkmatter.formfactor import shipped_table
    from acie.darkmatter.formfactor.io import read_acie
    from acie.darkmatter.formfactor.shipped import shipped_table_path
    from acie.darkmatter.formfactor_systematics import functional_spread

    masses = [1, 10, 1000] * u.MeV

    def counts(t):
        return total_rate(t, masses, 1e-37 * u.cm**2).value

    folder = shipped_table_path("Ge").parent
    full = shipped_table("Ge")
    diff = counts(read_acie(folder / "Ge_4x4x4_pbe.h5")) - counts(
        read_acie(folder / "Ge_valence.h5")
    )
    f = functional_spread(full, counts)
    assert f.available
    assert "shipped DFT part" in f.basis
    np.testing.assert_allclose(f.rel_sigma, np.abs(diff) / counts(full), rtol=1e-12)
    assert f.rel_sigma[-1] < 0.05  # at 1 GeV the 3d dominates: the functional barely matters
    assert f.rel_sigma[0] > 0.1  # at 1 MeV it is all near-gap valence (heavy: 1.16 vs 1.33)


def test_functional_spread_of_a_rescaled_table_is_relative_to_its_shipped_settings():
    """A given table with shipped settings but other values (here Ge's f2 / 1000) gets the
    relative spread of those settings, not |c(shipped other xc)/c(given) − 1| ≈ 1000."""
    from dataclasses import replace

    from acie.darkmatter.electron import total_rate
    from acie.darkmatter.formfactor import shipped_table
    from acie.darkmatter.formfactor_systematics import functional_spread

    masses = [1, 10, 1000] * u.MeV

    def counts(t):
        return total_rate(t, masses, 1e-37 * u.cm**2).value

    ge = shipped_table("Ge")
    scaled = functional_spread(replace(ge, f2=ge.f2 * 1e-3), counts)
    np.testing.assert_allclose(scaled.rel_sigma, functional_spread(ge, counts).rel_sigma)
    assert np.all(scaled.rel_sigma < 0.5)
