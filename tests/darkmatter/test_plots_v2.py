"""Plots: the material comparison is rebinned (no comb of 0.1 eV spikes); η spans every halo (#20)."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from matplotlib.patches import StepPatch
from typer.testing import CliRunner

from acie.cli.main import app
from acie.darkmatter import plots as P
from acie.darkmatter.electron import dr_de
from acie.darkmatter.formfactor.shipped import shipped_table
from acie.darkmatter.halo_parameters import available_halo_parameters, resolve_halo

UNIT = u.Unit("1/(kg yr eV)")


def test_material_comparison_draws_rate_conserving_1_ev_steps():
    spectra = {}
    for name in ("Si", "NaI"):
        t = shipped_table(name)
        spectra[name] = (t.energy, dr_de(t, 100 * u.MeV, 1e-39 * u.cm**2))
    fig = P.plot_material_comparison(spectra)
    steps = [a for a in fig.axes[0].patches if isinstance(a, StepPatch)]
    assert len(steps) == 2
    assert not fig.axes[0].lines  # no raw 0.1 eV polyline
    for (_e, r), step in zip(spectra.values(), steps, strict=True):
        vals, edges = step.get_data().values, step.get_data().edges
        np.testing.assert_allclose(np.diff(edges), 1.0)
        total = np.nansum(vals) * 1.0
        assert total == pytest.approx(float(np.sum(r.to_value(UNIT) * 0.1)), rel=1e-9)


def test_rebin_of_a_flat_spectrum_is_flat():
    e = (np.arange(100) + 0.5) * 0.1 * u.eV
    edges, vals = P.rebin_spectrum(e, np.ones(100) * UNIT, 1 * u.eV)
    np.testing.assert_allclose(vals, 1.0)
    assert edges[-1] == pytest.approx(10.0)


def test_eta_grid_reaches_the_largest_vesc_plus_ve():
    halos = [resolve_halo(n) for n in available_halo_parameters()]
    v = P.eta_speed_grid(halos)
    assert v[-1].to_value(u.km / u.s) == pytest.approx(840.0)  # qedark2016: 600 + 240
    r = CliRunner().invoke(app, ["dm", "eta", "--halo", "qedark2016", "--n", "3", "--json"])
    rows = json.loads(r.stdout)["rows"]
    assert rows[-1]["vmin_km_s"] == pytest.approx(840.0)
    assert rows[-2]["eta_s_km"] > 0 == rows[-1]["eta_s_km"]
