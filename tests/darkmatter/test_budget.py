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
