"""Figures of the analysis toolkit (matplotlib ``Figure`` objects, no pyplot state).

* :func:`response_curve_figure` — ``E[Y(z)]`` with individual galaxies, and its derivative
  with intervals, observational (EIF) estimates and an analytic curve; grid intervals
  flagged as discontinuous are shaded.
* :func:`hierarchical_fit_figure` — data and per-group lines (fixed effects plus BLUPs),
  and a caterpillar plot of the group effects.
* :func:`selection_bias_figure` — the completeness curve over the parent and selected
  distributions, and the parent, naive and IPW-weighted fits.

:func:`save_figure` writes 300-dpi PNG or PDF atomically (temporary file, then rename).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from acie._files import atomic_output
from acie.errors import InputValidationError, UnknownNameError, expected_got

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from acie.analysis.hierarchical import HierarchicalFit
    from acie.analysis.response import ResponseCurve
    from acie.analysis.selection import CompletenessFunction, LinearFit

__all__ = [
    "hierarchical_fit_figure",
    "response_curve_figure",
    "save_figure",
    "selection_bias_figure",
]


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 300) -> Path:
    """Save ``fig`` to ``path`` (``.png`` or ``.pdf``) at ``dpi``, atomically."""
    path = Path(path)
    if path.suffix.lower() not in {".png", ".pdf"}:
        raise InputValidationError(
            expected_got("the figure path", "a .png or .pdf file", str(path))
        )
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix[1:].lower(), bbox_inches="tight")
    return path


def _label(name: str, unit: str) -> str:
    return f"{name} [{unit}]" if unit else f"{name} [dimensionless]"


def response_curve_figure(
    curve: ResponseCurve,
    *,
    observational: Sequence[Any] = (),
    reference: tuple[Any, Any] | None = None,
    reference_label: str = "analytic",
    title: str | None = None,
) -> Figure:
    """Response curve (top) and derivative (bottom).

    Parameters
    ----------
    curve : ResponseCurve
    observational : sequence of DerivativeEstimate
        Estimates from :func:`acie.analysis.observational_response` (drawn with 95 %
        error bars).
    reference : (z, dY/dz) arrays, optional
        A reference derivative curve (e.g. analytic), drawn dashed as ``reference_label``.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 7.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    g = curve.grid
    for i, unit in enumerate(curve.unit_curves):
        top.plot(
            g, unit, color="0.6", lw=0.7, alpha=0.8, label="individual galaxies" if i == 0 else None
        )
    top.fill_between(
        g,
        curve.response - 2 * curve.response_se,
        curve.response + 2 * curve.response_se,
        color="C0",
        alpha=0.3,
    )
    top.plot(g, curve.response, "o-", color="C0", ms=3, label=f"E[Y(z)], n = {curve.n}")
    top.set_ylabel(_label(curve.observable, curve.observable_unit))
    top.legend(fontsize=8)
    bottom.fill_between(
        g,
        curve.ci_low,
        curve.ci_high,
        color="C0",
        alpha=0.3,
        label=f"{round(100 * curve.level)}% interval",
    )
    bottom.plot(
        g, curve.derivative, "o-", color="C0", ms=3, label=f"counterfactual ±{curve.epsilon:g}"
    )
    if reference is not None:
        bottom.plot(
            np.asarray(reference[0]), np.asarray(reference[1]), "k--", lw=1, label=reference_label
        )
    if observational:
        z = [e.at for e in observational]
        est = np.array([e.estimate for e in observational])
        err = np.array(
            [
                [e.estimate - e.ci_low for e in observational],
                [e.ci_high - e.estimate for e in observational],
            ]
        )
        bottom.errorbar(
            z, est, yerr=err, fmt="s", color="C3", ms=4, capsize=2, label="observational (EIF)"
        )
    for i, (a, b) in enumerate(curve.discontinuities):
        for ax in (top, bottom):
            ax.axvspan(
                a,
                b,
                color="C1",
                alpha=0.15,
                label="flagged jump/kink" if (i == 0 and ax is bottom) else None,
            )
    du = f"{curve.observable_unit or '1'} / {curve.treatment_unit or '1'}"
    bottom.set_ylabel(f"dE[Y]/dz [{du}]")
    bottom.set_xlabel(_label(curve.treatment, curve.treatment_unit))
    bottom.axhline(0, color="0.8", lw=0.5)
    bottom.legend(fontsize=8)
    if title:
        top.set_title(title)
    return fig


def hierarchical_fit_figure(
    fit: HierarchicalFit,
    *,
    x_unit: str = "",
    y_unit: str = "",
    effect: str | None = None,
    max_points: int = 4000,
    seed: int = 0,
) -> Figure:
    """Data and lines of a mixed-model fit, and a caterpillar plot of one random effect.

    The data are coloured by group, with each group's line (fixed effect + BLUP) and the
    fixed line; the caterpillar plot shows ± 2 conditional s.d.

    The x axis is the first non-intercept fixed-effect term (as transformed by the
    formula), the y axis the response; ``x_unit``/``y_unit`` label them. ``effect``
    names the random effect of the caterpillar plot (default: the last one, i.e. the
    slope when there are random slopes).
    """
    from matplotlib.figure import Figure

    res = fit.result
    exog = np.asarray(res.model.exog)
    names = list(fit.fixed_effects.index)
    slopes = [i for i, nm in enumerate(names) if nm != "Intercept"]
    if not slopes:
        raise InputValidationError("the fit has no fixed-effect predictor to plot against")
    j = slopes[0]
    x = exog[:, j]
    y = np.asarray(res.model.endog)
    groups = np.asarray(res.model.groups)
    levels = list(fit.group_effects.index)
    fig = Figure(figsize=(11.0, 4.6), layout="constrained")
    ax, cat = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1.0]})
    rng = np.random.default_rng(seed)
    show = rng.permutation(x.size)[:max_points]
    colours = [f"C{i % 10}" for i in range(len(levels))]
    fe = fit.fixed_effects["estimate"]
    x_line = np.linspace(np.percentile(x, 1), np.percentile(x, 99), 50)
    icpt = float(fe.get("Intercept", 0.0))
    for k, lev in enumerate(levels):
        sel = show[groups[show] == lev]
        ax.scatter(x[sel], y[sel], s=3, color=colours[k], alpha=0.4, lw=0)
        b = fit.group_effects.loc[lev]
        a_g = icpt + float(b.get("Intercept", 0.0))
        s_g = float(fe.iloc[j]) + float(b.get(names[j], 0.0))
        ax.plot(x_line, a_g + s_g * x_line, color=colours[k], lw=0.8)
    ax.plot(x_line, icpt + float(fe.iloc[j]) * x_line, "k-", lw=2.2, label="fixed effects")
    ax.set_xlabel(_label(names[j], x_unit))
    ax.set_ylabel(_label(fit.parsed.response, y_unit))
    ax.legend(fontsize=8, title=f"{fit.n_groups} {fit.parsed.group} levels", title_fontsize=8)
    cols = list(fit.group_effects.columns)
    col = cols[-1] if effect is None else effect
    if col not in cols:
        raise UnknownNameError(f"unknown random effect {col!r}; the fit has: {', '.join(cols)}")
    ci = cols.index(col)
    cov = res.random_effects_cov
    order = np.argsort(fit.group_effects[col].to_numpy())
    vals = fit.group_effects[col].to_numpy()[order]
    sds = np.array([np.sqrt(np.asarray(cov[levels[i]])[ci, ci]) for i in order])
    pos = np.arange(len(vals))
    cat.errorbar(vals, pos, xerr=2 * sds, fmt="o", ms=3, color="C0", capsize=2)
    cat.set_yticks(pos, [str(levels[i]) for i in order], fontsize=7)
    cat.axvline(0, color="0.5", lw=0.8)
    unit = y_unit if col == "Intercept" else (f"({y_unit}) / ({x_unit})" if y_unit else "")
    cat.set_xlabel(_label(f"random {col} (BLUP ± 2 s.d.)", unit))
    cat.set_ylabel(f"{fit.parsed.group} [label]")
    return fig


def selection_bias_figure(
    parent: pd.DataFrame,
    selected: pd.DataFrame,
    completeness: CompletenessFunction,
    *,
    x: str,
    y: str,
    fits: Mapping[str, LinearFit],
    units: Mapping[str, str] | None = None,
    max_points: int = 5000,
    seed: int = 0,
) -> Figure:
    """Completeness over the selection variable, and the relation ``y`` vs ``x``.

    The left panel shows the completeness, the right one the data with the fitted lines.
    """
    from matplotlib.figure import Figure

    units = dict(units or {})
    for col in (x, y, completeness.column):
        for frame, label in ((parent, "parent"), (selected, "selected")):
            if col not in frame.columns:
                raise UnknownNameError(f"the {label} catalogue has no column {col!r}")
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    c = completeness.column
    lo, hi = np.percentile(parent[c], [0.5, 99.5])
    bins = np.linspace(lo, hi, 40)
    left.hist(parent[c], bins=bins, color="0.7", label=f"parent ({len(parent)})")
    left.hist(selected[c], bins=bins, color="C0", alpha=0.7, label=f"selected ({len(selected)})")
    left.set_xlabel(_label(c, completeness.unit))
    left.set_ylabel("galaxies per bin [count]")
    twin = left.twinx()
    xx = np.linspace(bins[0], bins[-1], 200)
    twin.plot(
        xx,
        completeness.probability(xx),
        "k-",
        lw=1.5,
        label=f"completeness ({'estimated' if completeness.estimated else 'known'})",
    )
    twin.set_ylabel("P(selected) [probability]")
    twin.set_ylim(0, 1.05)
    left.legend(loc="upper left", fontsize=8)
    twin.legend(loc="lower left", fontsize=8)
    rng = np.random.default_rng(seed)
    ip = rng.permutation(len(parent))[:max_points]
    isel = rng.permutation(len(selected))[:max_points]
    right.scatter(
        parent[x].to_numpy()[ip], parent[y].to_numpy()[ip], s=2, color="0.75", lw=0, label="parent"
    )
    right.scatter(
        selected[x].to_numpy()[isel],
        selected[y].to_numpy()[isel],
        s=2,
        color="C0",
        lw=0,
        alpha=0.5,
        label="selected",
    )
    x_lo, x_hi = np.percentile(parent[x], [1, 99])
    xl = np.linspace(x_lo, x_hi, 50)
    styles = ["k-", "C3--", "C2-", "C1:", "C4-."]
    for (name, f), st in zip(fits.items(), styles * 3, strict=False):
        p = f.params
        slope_name = next(k for k in p.index if k != "Intercept")
        right.plot(
            xl,
            p.get("Intercept", 0.0) + p[slope_name] * xl,
            st,
            lw=1.8,
            label=f"{name}: slope {p[slope_name]:.3f} ± {f.std_errors[slope_name]:.3f}",
        )
    right.set_xlabel(_label(x, units.get(x, "")))
    right.set_ylabel(_label(y, units.get(y, "")))
    right.legend(fontsize=8)
    return fig
