"""Figures for dark-matter rates: spectra, rates per n_e, η(v_min), reach curves, form factors.

Every function returns a :class:`matplotlib.figure.Figure` (Agg backend, no pyplot
state) with units on the axes; :func:`save_figure` writes it at 300 dpi as PNG or PDF
(atomically). Matplotlib is imported lazily.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import astropy.units as u
import numpy as np

from acie._files import atomic_output
from acie.darkmatter.electron import RatesPerNe
from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.reach import ReachCurve
from acie.darkmatter.uncertainty import Band
from acie.errors import DataFormatError, InputValidationError, expected_got

__all__ = [
    "DPI",
    "eta_speed_grid",
    "plot_eta",
    "plot_formfactor",
    "plot_material_comparison",
    "plot_rates_per_ne",
    "plot_reach",
    "plot_spectrum",
    "save_figure",
]

DPI = 300


def _figure(figsize=(6.0, 4.2)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _label(quantity: u.Quantity | u.UnitBase) -> str:
    unit = quantity.unit if isinstance(quantity, u.Quantity) else quantity
    return unit.to_string("latex_inline")


def save_figure(fig, path: str | os.PathLike, *, dpi: int = DPI) -> Path:
    """Save ``fig`` to ``path`` (``.png`` or ``.pdf``) at ``dpi``, via a temporary file and rename."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf"):
        raise InputValidationError(
            expected_got("figure file name", "ending in .png or .pdf", path.name)
        )
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt)
    return path


def _band(ax, x, b: Band, unit, color, label):
    ax.fill_between(
        x,
        b.lo95.to_value(unit),
        b.hi95.to_value(unit),
        color=color,
        alpha=0.18,
        lw=0,
        label=f"{label} 95 %",
    )
    ax.fill_between(
        x,
        b.lo68.to_value(unit),
        b.hi68.to_value(unit),
        color=color,
        alpha=0.35,
        lw=0,
        label=f"{label} 68 %",
    )
    ax.plot(x, b.median.to_value(unit), color=color, lw=1.5, label=f"{label} median")


def plot_spectrum(
    energy: u.Quantity,
    curves: Mapping[str, u.Quantity | Band],
    *,
    title: str = "",
    log: bool = True,
):
    """dR/dE against energy for one or more labelled spectra (or bands)."""
    fig, ax = _figure()
    first = next(iter(curves.values()))
    unit = (first.median if isinstance(first, Band) else first).unit
    x = energy.value
    for i, (label, c) in enumerate(curves.items()):
        color = f"C{i}"
        if isinstance(c, Band):
            _band(ax, x, c, unit, color, label)
        else:
            ax.plot(x, c.to_value(unit), color=color, label=label)
    ax.set_xlabel(f"energy [{_label(energy)}]")
    ax.set_ylabel(f"dR/dE [{_label(unit)}]")
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def plot_rates_per_ne(rates: Mapping[str, RatesPerNe], *, title: str = ""):
    """Rates in each n_e ≥ 1 bin (bar-like steps), one line per label.

    Parameters
    ----------
    rates : mapping of label to RatesPerNe
        Results of :func:`acie.darkmatter.electron.rate_per_ne` for one mass each.
    """
    fig, ax = _figure()
    unit = next(iter(rates.values())).rate.unit
    for i, (label, r) in enumerate(rates.items()):
        if not isinstance(r, RatesPerNe):
            raise DataFormatError(
                expected_got(f"rates[{label!r}]", "a RatesPerNe", type(r).__name__)
            )
        seen = r.n_e >= 1
        ax.step(r.n_e[seen], r.rate.to_value(unit)[seen], where="mid", color=f"C{i}", label=label)
    ax.set_xlabel("number of electron–hole pairs $n_e$")
    ax.set_ylabel(f"rate [{_label(unit)}]")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def eta_speed_grid(halos, n: int = 241) -> u.Quantity:
    """v_min from 0 to the largest v_esc + v_E of ``halos`` (where every η reaches 0), km/s."""
    top = max(float((h.vesc + h.v_earth).to_value(u.km / u.s)) for h in halos)
    return np.linspace(0.0, top, n) * u.km / u.s


def plot_eta(vmin: u.Quantity, curves: Mapping[str, u.Quantity]):
    """η(v_min) for labelled halo models."""
    fig, ax = _figure()
    for i, (label, e) in enumerate(curves.items()):
        ax.plot(vmin.value, e.to_value(u.s / u.km), color=f"C{i}", label=label)
    ax.set_xlabel(f"$v_{{min}}$ [{_label(vmin)}]")
    ax.set_ylabel(r"$\eta(v_{min})$ [" + (u.s / u.km).to_string("latex_inline") + "]")
    ax.legend(fontsize=8)
    return fig


def _reach_label(c: ReachCurve) -> str:
    st = c.settings
    parts = [str(st.get("material", st.get("target", c.channel)))]
    if c.channel == "electron":
        parts.append(
            f"$n_e$ = {st['ne_bin']}"
            if st.get("ne_bin") is not None
            else f"$n_e$ ≥ {st.get('ne_threshold')}"
        )
        parts.append(f"{st.get('mediator', 'heavy')} mediator")
    else:
        parts.append(f"{st.get('e_min_keV', 0):g}–{st.get('e_max_keV', 0):g} keV")
    parts.append(f"{c.method}, {c.cl:.0%} CL")
    return ", ".join(parts)


def plot_reach(
    curves: Sequence[ReachCurve], *, bands: Mapping[int, Band] | None = None, title: str = ""
):
    """Cross-section reach curves against mass (log–log), optional halo-uncertainty bands by index."""
    fig, ax = _figure()
    for i, c in enumerate(curves):
        m = c.mass.to_value(u.MeV)
        if bands and i in bands:
            _band(ax, m, bands[i], u.cm**2, f"C{i}", c.settings.get("material", c.channel))
        label = _reach_label(c)
        ax.plot(
            m,
            c.cross_section.to_value(u.cm**2),
            color=f"C{i}",
            lw=1.8 if not bands else 0.8,
            ls="-" if not bands else "--",
            label=label,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"dark-matter mass $m_\chi$ [MeV]")
    ax.set_ylabel(r"cross-section upper limit [cm$^{2}$]")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def rebin_spectrum(energy: u.Quantity, rate: u.Quantity, width: u.Quantity):
    """Average dR/dE over bins of ``width`` from 0 eV (rate-conserving): (edges, values).

    Each table bin (width from its centres) is shared among the new bins it overlaps, so
    Σ values × width equals Σ rate × table bin width.
    """
    e = energy.to_value(u.eV)
    r = rate.to_value(u.Unit("1/(kg yr eV)"))
    w = float(width.to_value(u.eV))
    if not w > 0:
        raise InputValidationError(expected_got("bin width", "> 0 eV", w))
    half = np.diff(e, prepend=2 * e[0] - e[1], append=2 * e[-1] - e[-2])
    lo = e - half[:-1] / 2
    hi = e + half[1:] / 2
    edges = np.arange(0.0, hi[-1] + w, w)
    # rate-weighted overlap of every table bin with every new bin (cumulative integral)
    cum = np.concatenate([[0.0], np.cumsum(r * (hi - lo))])
    grid = np.concatenate([lo[:1], hi])
    at = np.interp(edges, grid, cum)
    return edges, np.diff(at) / w


def plot_material_comparison(
    energy_by_material: Mapping[str, tuple[u.Quantity, u.Quantity]],
    *,
    title: str = "",
    bin_width: u.Quantity = 1.0 * u.eV,
):
    """dR/dE of several materials on one figure, each averaged over ``bin_width`` bins.

    The tables' fine bins (0.1 eV) are rebinned (:func:`rebin_spectrum`) and drawn as steps,
    so a log axis shows the spectra, not a comb of single-bin spikes.
    """
    fig, ax = _figure()
    for i, (name, (e, r)) in enumerate(energy_by_material.items()):
        edges, vals = rebin_spectrum(e, r, bin_width)
        ax.stairs(np.where(vals > 0, vals, np.nan), edges, color=f"C{i}", label=name)
    ax.set_xlabel(f"energy [eV], {bin_width.to_value(u.eV):g} eV bins")
    ax.set_ylabel("dR/dE [" + u.Unit("1/(kg yr eV)").to_string("latex_inline") + "]")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def plot_formfactor(table: FormFactorTable, *, vmin_floor: float = 1e-3):
    """Heat map of f2(q, E) (log colour scale), q in keV against E in eV."""
    from matplotlib.colors import LogNorm

    fig, ax = _figure((6.0, 4.6))
    f2 = np.where(table.f2 > vmin_floor, table.f2, np.nan)
    mesh = ax.pcolormesh(
        table.energy_eV,
        table.q_keV,
        f2,
        norm=LogNorm(vmin=vmin_floor, vmax=np.nanmax(f2)),
        shading="nearest",
        cmap="magma_r",
        rasterized=True,
    )
    fig.colorbar(mesh, ax=ax, label=r"$|f_{crystal}(q,E)|^2$")
    ax.set_xlabel("energy deposit E [eV]")
    ax.set_ylabel("momentum transfer q [keV]")
    ax.set_title(f"{table.material} crystal form factor")
    return fig
