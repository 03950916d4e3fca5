"""Contour plot of the bias-adjusted estimate over the confounder's two partial R².

The figure of Cinelli & Hazlett (2020, Fig. 2): the estimate that would be obtained had a
confounder Z with partial R² ``R²_{D~Z|X}`` (horizontal) and ``R²_{Y~Z|D,X}`` (vertical)
been adjusted for, the zero (or ``threshold``) contour drawn red and dashed, the
unadjusted estimate marked, and the benchmark bounds of observed covariates as red
diamonds. Returns a matplotlib ``Figure`` (no pyplot state, nothing written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from acie.causal.sensitivity import OLSSensitivity, adjusted_estimate
from acie.errors import InputValidationError, expected_got

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["contour_grid", "sensitivity_contour_figure"]


def contour_grid(
    result: OLSSensitivity, *, lim: float | None = None, n: int = 101
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The adjusted estimate on an ``n × n`` grid of the two partial R².

    Parameters
    ----------
    result : OLSSensitivity
        From :func:`acie.causal.sensitivity.ols_sensitivity`.
    lim : float in (0, 1), optional
        Upper limit of both axes; default: 0.4, or larger to show every bound.
    n : int
        Grid points per axis.

    Returns
    -------
    (r2dz_x, r2yz_dx, adjusted) : tuple of ndarray
        The axes, shape ``(n,)`` each, and the estimates, shape ``(n, n)`` with rows
        along ``r2yz_dx``.
    """
    if lim is None:
        top = max([0.4, *(1.2 * max(b.r2dz_x, b.r2yz_dx) for b in result.bounds)])
        lim = min(top, 0.99)
    if not 0 < lim < 1:
        raise InputValidationError(expected_got("lim", "in (0, 1)", lim))
    if n < 3:
        raise InputValidationError(expected_got("n", "at least 3", n))
    ax = np.linspace(0.0, lim, n)
    dd, yy = np.meshgrid(ax, ax)
    adj = adjusted_estimate(result.estimate, result.std_error, result.dof, dd, yy)
    return ax, ax.copy(), np.asarray(adj)


def sensitivity_contour_figure(
    result: OLSSensitivity,
    *,
    threshold: float = 0.0,
    lim: float | None = None,
    treatment: str = "treatment",
) -> Figure:
    """Contours of the bias-adjusted estimate with benchmark bounds.

    Parameters
    ----------
    result : OLSSensitivity
        The sensitivity analysis to draw.
    threshold : float
        The estimate value whose contour is highlighted (default 0).
    lim : float, optional
        Axis limit (see :func:`contour_grid`).
    treatment : str
        Treatment name for the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    xd, xy, adj = contour_grid(result, lim=lim)
    fig = Figure(figsize=(5.6, 5.0), layout="constrained")
    ax = fig.add_subplot()
    cs = ax.contour(xd, xy, adj, levels=12, colors="0.35", linewidths=0.8)
    ax.clabel(cs, fontsize=7, fmt="%.3g")
    if adj.min() < threshold < adj.max():
        ax.contour(xd, xy, adj, levels=[threshold], colors="red", linestyles="--", linewidths=1.4)
    ax.plot([0], [0], "k^", ms=8, clip_on=False)
    ax.annotate(
        f"unadjusted ({result.estimate:.3g})",
        (0, 0),
        (6, 6),
        textcoords="offset points",
        fontsize=8,
    )
    for b in result.bounds:
        ax.plot([b.r2dz_x], [b.r2yz_dx], "D", color="red", ms=6)
        ax.annotate(
            f"{b.kd:g}× {b.covariate} ({b.adjusted_estimate:.3g})",
            (b.r2dz_x, b.r2yz_dx),
            (6, -10),
            textcoords="offset points",
            fontsize=8,
            color="red",
        )
    ax.set_xlabel("partial R² of confounder(s) with the treatment, R²(D~Z|X)")
    ax.set_ylabel("partial R² of confounder(s) with the outcome, R²(Y~Z|D,X)")
    ax.set_title(f"adjusted estimate of {treatment} (RV = {result.rv_q:.3f})", fontsize=10)
    return fig
