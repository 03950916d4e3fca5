"""Symbolic estimands over observed variables: P(A | B), products, sums and ratios.

The expressions the ID algorithm (:mod:`acie.causal.id_algorithm`) returns. Each prints
as text (``str``) or LaTeX (:meth:`Expr.latex`), and :func:`evaluate` computes it from
the joint probability table of discrete variables, so an identified causal effect can be
estimated from data (or checked against the truth of a known model).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from acie.errors import InputValidationError, ShapeError, expected_got

__all__ = ["Expr", "Prob", "Product", "Ratio", "Sum", "evaluate"]


def _names(vs: Iterable[str]) -> str:
    return ", ".join(sorted(vs))


class Expr(abc.ABC):
    """A symbolic expression over observed variables."""

    @abc.abstractmethod
    def latex(self) -> str:
        """The expression in LaTeX."""

    @abc.abstractmethod
    def variables(self) -> frozenset[str]:
        """Every variable the expression mentions."""


@dataclass(frozen=True)
class Prob(Expr):
    """``P(vars | given)`` of the observational distribution."""

    vars: frozenset[str]
    given: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"P({_names(self.vars)}{' | ' + _names(self.given) if self.given else ''})"

    def latex(self) -> str:
        r"""``P(a, b \mid c)``."""
        cond = r" \mid " + _names(self.given) if self.given else ""
        return f"P({_names(self.vars)}{cond})"

    def variables(self) -> frozenset[str]:
        """``vars ∪ given``."""
        return self.vars | self.given


@dataclass(frozen=True)
class Product(Expr):
    """A product of factors."""

    factors: tuple[Expr, ...]

    def __str__(self) -> str:
        return " ".join(f"[{f}]" if isinstance(f, Sum | Ratio) else str(f) for f in self.factors)

    def latex(self) -> str:
        """Factors side by side."""
        return " ".join(
            f"\\left[{f.latex()}\\right]" if isinstance(f, Sum | Ratio) else f.latex()
            for f in self.factors
        )

    def variables(self) -> frozenset[str]:
        """Union over the factors."""
        return frozenset().union(*(f.variables() for f in self.factors))


@dataclass(frozen=True)
class Sum(Expr):
    """``Σ_{over} expr``."""

    over: frozenset[str]
    expr: Expr

    def __str__(self) -> str:
        return f"sum_{{{_names(self.over)}}} {self.expr}"

    def latex(self) -> str:
        r"""``\sum_{a, b} …``."""
        return f"\\sum_{{{_names(self.over)}}} {self.expr.latex()}"

    def variables(self) -> frozenset[str]:
        """Variables of the summand."""
        return self.expr.variables()


@dataclass(frozen=True)
class Ratio(Expr):
    """``numerator / denominator``."""

    numerator: Expr
    denominator: Expr

    def __str__(self) -> str:
        return f"({self.numerator}) / ({self.denominator})"

    def latex(self) -> str:
        r"""``\frac{…}{…}``."""
        return f"\\frac{{{self.numerator.latex()}}}{{{self.denominator.latex()}}}"

    def variables(self) -> frozenset[str]:
        """Variables of both parts."""
        return self.numerator.variables() | self.denominator.variables()


def make_sum(over: Iterable[str], expr: Expr) -> Expr:
    """``Σ_over expr``, simplified: nothing to sum, or a marginal of one ``Prob``."""
    over = frozenset(over) & expr.variables()
    if not over:
        return expr
    if isinstance(expr, Sum):
        return Sum(over | expr.over, expr.expr)
    if isinstance(expr, Prob) and over <= expr.vars:
        return Prob(expr.vars - over, expr.given)
    return Sum(over, expr)


def make_product(factors: Iterable[Expr]) -> Expr:
    """A product, flattened; a single factor is returned as it is."""
    flat: list[Expr] = []
    for f in factors:
        flat.extend(f.factors if isinstance(f, Product) else (f,))
    return flat[0] if len(flat) == 1 else Product(tuple(flat))


def evaluate(expr: Expr, joint: Any, variables: Sequence[str], values: Mapping[str, int]) -> float:
    """The value of ``expr`` under the joint table of discrete variables, at ``values``.

    Parameters
    ----------
    expr : Expr
        The estimand.
    joint : array-like
        ``P(V = v)`` with one axis per entry of ``variables`` (entries sum to 1).
    variables : sequence of str
        The axis names of ``joint``.
    values : mapping of str to int
        Values (indices along their axes) of free variables of ``expr``, e.g. the
        outcome and the treatment of ``P(y | do(x))``. Free variables without a value
        (those an identified effect does not depend on, like W2 in the napkin formula)
        are averaged over their observed distribution.

    Returns
    -------
    float

    Raises
    ------
    InputValidationError
        A value for an unknown variable, or a table that is not a distribution.
    """
    p = np.asarray(joint, dtype=float)
    names = list(variables)
    if p.ndim != len(names) or len(set(names)) != len(names):
        raise ShapeError(expected_got("joint", f"one axis per variable {names}", p.shape))
    if np.any(p < 0) or abs(p.sum() - 1) > 1e-9:
        raise InputValidationError(expected_got("joint", "a probability table", "not one"))
    unknown = expr.variables() - set(names)
    if unknown:
        raise InputValidationError(
            expected_got("expression variables", f"in {names}", sorted(unknown))
        )
    axis = {n: i for i, n in enumerate(names)}

    def marg(keep: frozenset[str]) -> np.ndarray:
        drop = tuple(axis[n] for n in names if n not in keep)
        return p.sum(axis=drop, keepdims=True)

    def ev(e: Expr) -> np.ndarray:
        if isinstance(e, Prob):
            num = marg(e.vars | e.given)
            den = marg(e.given)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
        if isinstance(e, Product):
            out = np.ones([1] * len(names))
            for f in e.factors:
                out = out * ev(f)
            return out
        if isinstance(e, Sum):
            inner = np.broadcast_to(ev(e.expr), p.shape)
            return inner.sum(axis=tuple(axis[n] for n in e.over), keepdims=True)
        if isinstance(e, Ratio):
            num, den = np.broadcast_arrays(ev(e.numerator), ev(e.denominator))
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
        raise InputValidationError(expected_got("expr", "an Expr", type(e).__name__))

    free = _free(expr)
    unknown_values = sorted(set(values) - set(names))
    if unknown_values:
        raise InputValidationError(expected_got("values", f"variables in {names}", unknown_values))
    out = np.broadcast_to(ev(expr), p.shape)
    rest = frozenset(free - set(values))
    if rest:  # free variables the estimand should not depend on: average over P(rest)
        out = (out * marg(rest)).sum(axis=tuple(axis[n] for n in rest), keepdims=True)
        out = np.broadcast_to(out, p.shape)
    idx = tuple(int(values[n]) if n in values else 0 for n in names)
    return float(out[idx])


def _free(e: Expr) -> frozenset[str]:
    if isinstance(e, Prob):
        return e.vars | e.given
    if isinstance(e, Product):
        return frozenset().union(*(_free(f) for f in e.factors))
    if isinstance(e, Sum):
        return _free(e.expr) - e.over
    if isinstance(e, Ratio):
        return _free(e.numerator) | _free(e.denominator)
    return frozenset()
