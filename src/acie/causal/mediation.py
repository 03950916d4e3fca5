"""Natural direct and indirect effects (causal mediation) with bootstrap intervals.

For a treatment T, one mediator M, an outcome Y and covariates X that block the
T–M, T–Y and M–Y backdoor paths (with no effect of T confounding M → Y), the natural
effects of moving T from t0 to t1 are (Pearl 2001; VanderWeele, *Explanation in Causal
Inference*, 2015, §2.2)

* NDE = E[Y(t1, M(t0))] − E[Y(t0, M(t0))]  (the mediator held at its t0 value),
* NIE = E[Y(t1, M(t1))] − E[Y(t1, M(t0))]  (only the mediator moved),
* total effect = NDE + NIE.

With the linear models ``M = a0 + a1 T + a2·X + e`` and
``Y = b0 + b1 T + b2 M + b3 T·M + b4·X + u`` they are the closed forms of VanderWeele
(2015, eqs 2.5–2.6): ``NDE = (b1 + b3 (a0 + a1 t0 + a2·E[X])) (t1 − t0)`` and
``NIE = (b2 a1 + b3 a1 t1) (t1 − t0)``. Intervals are seeded percentile bootstrap
intervals; all replicates are fitted at once (batched normal equations).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from acie.causal._nuisance import batched_wls, bootstrap_counts
from acie.causal.effect_estimate import check_arrays
from acie.errors import InputValidationError, expected_got

__all__ = ["MediationEffects", "mediation_effects"]


@dataclass(frozen=True)
class MediationEffects:
    """Natural effects with percentile-bootstrap intervals.

    Attributes
    ----------
    nde, nie, total : float
        Natural direct, natural indirect and total effect of T: t0 → t1 (outcome units).
    nde_ci, nie_ci, total_ci : tuple of float
        Their intervals at ``level``.
    proportion_mediated : float
        ``nie / total``.
    level : float
        Confidence level.
    n : int
        Rows used.
    details : dict
        The fitted coefficients, ``t0``, ``t1``, the interaction flag and the bootstrap.
    """

    nde: float
    nie: float
    total: float
    nde_ci: tuple[float, float]
    nie_ci: tuple[float, float]
    total_ci: tuple[float, float]
    proportion_mediated: float
    level: float
    n: int
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)

    def __str__(self) -> str:
        pct = round(100 * self.level)
        return (
            f"NDE = {self.nde:.4g} [{self.nde_ci[0]:.4g}, {self.nde_ci[1]:.4g}], "
            f"NIE = {self.nie:.4g} [{self.nie_ci[0]:.4g}, {self.nie_ci[1]:.4g}], "
            f"total = {self.total:.4g} ({pct}% CIs, n={self.n})"
        )


def _effects(
    y: np.ndarray,
    t: np.ndarray,
    m: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    t0: float,
    t1: float,
    interaction: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ones = np.ones_like(t)
    dm = np.column_stack([ones, t, x])
    a = batched_wls(dm, m, w)
    cols = [ones, t, m, *([t * m] if interaction else []), x]
    b = batched_wls(np.column_stack(cols), y, w)
    b1, b2 = b[:, 1], b[:, 2]
    b3 = b[:, 3] if interaction else np.zeros(len(b))
    xbar = (w @ x) / w.sum(axis=1, keepdims=True)
    m0 = a[:, 0] + a[:, 1] * t0 + np.einsum("bj,bj->b", a[:, 2:], xbar)
    nde = (b1 + b3 * m0) * (t1 - t0)
    nie = (b2 * a[:, 1] + b3 * a[:, 1] * t1) * (t1 - t0)
    return nde, nie, a, b


def mediation_effects(
    *,
    outcome: Any,
    treatment: Any,
    mediator: Any,
    covariates: Any = None,
    t0: float = 0.0,
    t1: float = 1.0,
    interaction: bool = True,
    level: float = 0.95,
    n_bootstrap: int = 500,
    seed: int = 0,
) -> MediationEffects:
    """Natural direct and indirect effects of T: t0 → t1 through the mediator M.

    Parameters
    ----------
    outcome, treatment, mediator : array-like, shape (n,)
        Y, T (binary or continuous) and M (continuous).
    covariates : array-like, shape (n, p), optional
        Confounders X of T–M, T–Y and M–Y.
    t0, t1 : float
        The reference and the changed treatment level.
    interaction : bool
        Include the T × M term in the outcome model.
    level : float
        Confidence level.
    n_bootstrap : int
        Bootstrap replicates (at least 100).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    MediationEffects
    """
    y, t, x = check_arrays(outcome, treatment, covariates)
    m = np.asarray(mediator, dtype=float).reshape(-1)
    if m.shape != y.shape or not np.all(np.isfinite(m)):
        raise InputValidationError(expected_got("mediator", f"{y.shape[0]} finite values", m.shape))
    if not 0.0 < level < 1.0:
        raise InputValidationError(expected_got("level", "in (0, 1)", level))
    if n_bootstrap < 100:
        raise InputValidationError(expected_got("n_bootstrap", "at least 100", n_bootstrap))
    if t0 == t1:
        raise InputValidationError(expected_got("t0 and t1", "two different levels", t0))
    n = y.shape[0]
    nde, nie, a, b = _effects(y, t, m, x, np.ones((1, n)), t0, t1, interaction)
    counts = bootstrap_counts(n, n_bootstrap, seed)
    bn, bi, _, _ = _effects(y, t, m, x, counts, t0, t1, interaction)
    q = [50 * (1 - level), 50 * (1 + level)]

    def ci(v: np.ndarray) -> tuple[float, float]:
        lo, hi = np.percentile(v, q)
        return float(lo), float(hi)

    total = float(nde[0] + nie[0])
    return MediationEffects(
        nde=float(nde[0]),
        nie=float(nie[0]),
        total=total,
        nde_ci=ci(bn),
        nie_ci=ci(bi),
        total_ci=ci(bn + bi),
        proportion_mediated=float(nie[0]) / total if total else float("nan"),
        level=level,
        n=n,
        details={
            "t0": t0,
            "t1": t1,
            "interaction": interaction,
            "mediator_coefficients": a[0].tolist(),
            "outcome_coefficients": b[0].tolist(),
            "n_bootstrap": n_bootstrap,
            "seed": seed,
        },
    )
