"""Figures of the form-factor evidence: rate ratios, convergence, DFT vs external data.

Each function returns a matplotlib ``Figure`` (Agg, no pyplot state); save it with
:func:`acie.darkmatter.plots.save_figure` (300 dpi PNG/PDF).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from acie.darkmatter.formfactor.convergence import ConvergenceStudy, RateComparison

__all__ = ["plot_convergence", "plot_exciton_comparison", "plot_rate_comparison"]


def _figure(nrows: int = 1, figsize=(6.4, 6.0)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, 1, sharex=True) if nrows > 1 else [fig.add_subplot()]
    return fig, axes


def plot_rate_comparison(cmp: RateComparison, *, title: str = ""):
    """Rates (top) and rate ratio ours/reference (bottom) versus mass, per mediator."""
    fig, (ax0, ax1) = _figure(2)
    m = cmp.mass.to_value(u.MeV)
    ours, ref = cmp.labels
    for i, med in enumerate(cmp.rates):
        c = f"C{i}"
        ax0.loglog(m, cmp.rates[med]["ours"], "-", color=c, label=f"{ours}, {med} mediator")
        ax0.loglog(m, cmp.rates[med]["reference"], "--", color=c, label=f"{ref}, {med} mediator")
        ax1.semilogx(m, cmp.ratio[med], "-", color=c, label=f"{med}: {ours}/{ref}")
        ax1.semilogx(
            m,
            cmp.ratio_cut[med],
            ":",
            color=c,
            label=f"{med}: {ours}/{ref} (q < {cmp.q_max_keV:.1f} keV)",
        )
    ax1.axhline(1.0, color="0.5", lw=0.8)
    ax0.set_ylabel(r"rate at $\bar\sigma_e=10^{-37}\,\mathrm{cm^2}$ [1/(kg yr)]")
    ax1.set_ylabel("rate ratio")
    ax1.set_xlabel(r"$m_\chi$ [MeV]")
    ax0.legend(fontsize=7)
    ax1.legend(fontsize=7)
    if title:
        ax0.set_title(title)
    return fig


def plot_convergence(study: ConvergenceStudy, *, title: str = ""):
    """Rate relative to the study's reference setting versus mass, one line per setting."""
    fig, axes = _figure(
        len(study.points[0].rates), figsize=(6.4, 3.0 * len(study.points[0].rates) + 0.5)
    )
    ref = study.reference()
    m = study.mass.to_value(u.MeV)
    for ax, med in zip(axes, ref.rates, strict=True):
        for i, p in enumerate(study.points):
            ax.semilogx(m, p.rates[med] / ref.rates[med], color=f"C{i}", label=p.label)
        ax.axhline(1.0, color="0.5", lw=0.8)
        ax.set_ylabel(f"rate / {ref.label}\n({med} mediator)")
        ax.legend(fontsize=7)
    axes[-1].set_xlabel(r"$m_\chi$ [MeV]")
    axes[0].set_title(title or f"{study.material}: convergence of the DM-electron rate")
    return fig


def plot_exciton_comparison(data, *, title: str = ""):
    """q-integrated spectra Σ_q f2(q, E) of the external data and its DFT baseline, and their ratio."""
    fig, (ax0, ax1) = _figure(2)
    e = data.table.energy_eV
    ext = data.table.f2.sum(axis=0)
    label = f"external ({data.method})" + ("" if data.is_bse else " — NOT BSE")
    ax0.semilogy(e, np.where(ext > 0, ext, np.nan), label=label)
    if data.baseline is not None:
        base = data.baseline.f2.sum(axis=0)
        ax0.semilogy(e, np.where(base > 0, base, np.nan), "--", label="DFT baseline")
        with np.errstate(divide="ignore", invalid="ignore"):
            ax1.plot(e, np.where(base > 0, ext / base, np.nan))
    ax1.axhline(1.0, color="0.5", lw=0.8)
    ax0.set_ylabel(r"$\sum_q |f(q,E)|^2$ (dimensionless)")
    ax1.set_ylabel("external / DFT")
    ax1.set_xlabel("E [eV]")
    ax0.legend(fontsize=7)
    ax0.set_title(title or f"{data.table.material}: external vs DFT form factor")
    return fig
