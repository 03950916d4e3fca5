"""Bounds on the probabilities of causation for a binary treatment and outcome.

For binary X (treatment, x = 1) and Y (outcome, y = 1), with counterfactuals Y_x:

* PNS = P(Y_1 = 1, Y_0 = 0): the probability of necessity and sufficiency;
* PN  = P(Y_0 = 0 | X = 1, Y = 1): necessity ("but for" the treatment, would the
  outcome not have happened, among those treated who had it);
* PS  = P(Y_1 = 1 | X = 0, Y = 0): sufficiency.

They are not identified in general, but experimental data P(y_x) and observational
data P(x, y) bound them. :func:`tian_pearl_bounds` gives the closed forms of Tian &
Pearl, "Probabilities of causation: bounds and identification", *Ann. Math. Artif.
Intell.* 28, 287 (2000), Theorems 1–4 (experimental and observational data together,
experimental only for PNS). :func:`lp_bounds` computes the tightest bounds from any
subset of the data by linear programming over the eight joint (X, response type) cells
(Balke & Pearl 1997); the two agree where both apply, and the LP also covers
observational data alone. When a structural model is given instead of data,
:mod:`acie.causal.posterior_counterfactual` samples the unit-level answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from acie.errors import EstimationError, InputValidationError, ShapeError, expected_got

__all__ = ["CausationBounds", "Interval", "lp_bounds", "tian_pearl_bounds"]


@dataclass(frozen=True)
class Interval:
    """A closed interval ``[lower, upper]`` of probabilities."""

    lower: float
    upper: float

    @property
    def identified(self) -> bool:
        """Whether the bounds meet (to 1e-12)."""
        return self.upper - self.lower < 1e-12

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.lower - 1e-12 <= value <= self.upper + 1e-12


@dataclass(frozen=True)
class CausationBounds:
    """Bounds on PNS, PN and PS (``None`` where the data given do not define them)."""

    pns: Interval
    pn: Interval | None
    ps: Interval | None
    method: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)


def _prob(name: str, v: Any) -> float:
    if v is None or isinstance(v, bool) or not isinstance(v, int | float | np.floating):
        raise InputValidationError(expected_got(name, "a probability in [0, 1]", v))
    v = float(v)
    if not 0.0 <= v <= 1.0:
        raise InputValidationError(expected_got(name, "a probability in [0, 1]", v))
    return v


def _joint(joint: Any) -> np.ndarray:
    p = np.asarray(joint, dtype=float)
    if p.shape != (2, 2):
        raise ShapeError(
            expected_got("joint", "a 2×2 table P(X=x, Y=y), rows x, columns y", p.shape)
        )
    if np.any(~np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1) > 1e-9:
        raise InputValidationError(
            expected_got("joint", "non-negative entries summing to 1", p.tolist())
        )
    return p


def tian_pearl_bounds(
    *, p_y_do_x1: float, p_y_do_x0: float, joint: Any | None = None
) -> CausationBounds:
    """Tian & Pearl's (2000) closed-form bounds.

    Parameters
    ----------
    p_y_do_x1, p_y_do_x0 : float
        Experimental ``P(Y=1 | do(X=1))`` and ``P(Y=1 | do(X=0))``.
    joint : array-like, shape (2, 2), optional
        Observational ``P(X=x, Y=y)`` (rows x = 0, 1; columns y = 0, 1). Without it
        only PNS is bounded.

    Returns
    -------
    CausationBounds

    Raises
    ------
    InputValidationError
        If the experimental and observational data contradict each other (they must
        satisfy ``P(x, y) ≤ P(y_x) ≤ 1 − P(x, y')``, Tian & Pearl eq. 13).
    """
    a = _prob("p_y_do_x1", p_y_do_x1)
    b = _prob("p_y_do_x0", p_y_do_x0)
    if joint is None:
        pns = Interval(max(0.0, a - b), min(a, 1 - b))
        return CausationBounds(pns, None, None, "Tian-Pearl (experimental)")
    p = _joint(joint)
    p_y = p[0, 1] + p[1, 1]
    x1y1, x1y0, x0y1, x0y0 = p[1, 1], p[1, 0], p[0, 1], p[0, 0]
    tol = 1e-9
    if not (x1y1 - tol <= a <= 1 - x1y0 + tol and x0y1 - tol <= b <= 1 - x0y0 + tol):
        raise InputValidationError(
            expected_got(
                "experimental and observational data",
                "P(x,y) ≤ P(y_x) ≤ 1 − P(x,y') for both arms",
                {"p_y_do_x1": a, "p_y_do_x0": b, "joint": p.tolist()},
            )
        )
    pns = Interval(
        float(max(0.0, a - b, p_y - b, a - p_y)),
        float(min(a, 1 - b, x1y1 + x0y0, a - b + x1y0 + x0y1)),
    )
    pn = ps = None
    if x1y1 > 0:
        pn = Interval(float(max(0.0, (p_y - b) / x1y1)), float(min(1.0, ((1 - b) - x0y0) / x1y1)))
    if x0y0 > 0:
        ps = Interval(float(max(0.0, (a - p_y) / x0y0)), float(min(1.0, (a - x1y1) / x0y0)))
    return CausationBounds(pns, pn, ps, "Tian-Pearl (experimental and observational)")


# response types r of Y: Y_x(r) for x = 0, 1
_RESPONSE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])  # never, helped, hurt, always


def lp_bounds(
    *,
    p_y_do_x1: float | None = None,
    p_y_do_x0: float | None = None,
    joint: Any | None = None,
) -> CausationBounds:
    """The tightest bounds from any subset of the data, by linear programming.

    The unknowns are the eight probabilities ``q[x, r]`` of treatment x and response
    type r (never, helped, hurt, always) of Y; the data are linear constraints on them,
    PNS = Σ_x q[x, helped], PN = q[1, helped] / P(1, 1), PS = q[0, helped] / P(0, 0).

    Parameters
    ----------
    p_y_do_x1, p_y_do_x0 : float, optional
        Experimental data (either, both or neither).
    joint : array-like, shape (2, 2), optional
        Observational ``P(X=x, Y=y)``.

    Returns
    -------
    CausationBounds

    Raises
    ------
    EstimationError
        If the data given are inconsistent (the LP is infeasible).
    """
    from scipy.optimize import linprog

    idx = {(x, r): 4 * x + r for x in (0, 1) for r in range(4)}
    rows: list[np.ndarray] = [np.ones(8)]
    rhs: list[float] = [1.0]
    p = None
    if joint is not None:
        p = _joint(joint)
        for x in (0, 1):
            for y in (0, 1):
                row = np.zeros(8)
                for r in range(4):
                    if _RESPONSE[r, x] == y:
                        row[idx[x, r]] = 1
                rows.append(row)
                rhs.append(p[x, y])
    for xdo, val, name in ((1, p_y_do_x1, "p_y_do_x1"), (0, p_y_do_x0, "p_y_do_x0")):
        if val is not None:
            row = np.zeros(8)
            for x in (0, 1):
                for r in range(4):
                    if _RESPONSE[r, xdo] == 1:
                        row[idx[x, r]] = 1
            rows.append(row)
            rhs.append(_prob(name, val))
    a_eq, b_eq = np.array(rows), np.array(rhs)

    def interval(c: np.ndarray, scale: float) -> Interval:
        lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, 1), method="highs")
        hi = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, 1), method="highs")
        if lo.status != 0 or hi.status != 0:
            raise EstimationError(
                "the experimental and observational data are inconsistent: no joint "
                "distribution of treatment and response types reproduces them"
            )
        return Interval(float(max(0.0, lo.fun / scale)), float(min(1.0, -hi.fun / scale)))

    c_pns = np.zeros(8)
    c_pns[[idx[0, 1], idx[1, 1]]] = 1
    pns = interval(c_pns, 1.0)
    pn = ps = None
    if p is not None and p[1, 1] > 0:
        c = np.zeros(8)
        c[idx[1, 1]] = 1
        pn = interval(c, p[1, 1])
    if p is not None and p[0, 0] > 0:
        c = np.zeros(8)
        c[idx[0, 1]] = 1
        ps = interval(c, p[0, 0])
    return CausationBounds(pns, pn, ps, "linear programming")
