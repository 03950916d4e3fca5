"""lme4-style model formulas: parsing, and the functions a formula may call.

``"log10(mass) ~ log10(luminosity) + (1 | survey_id)"`` splits into a patsy formula of
the fixed effects and, for each ``(terms | group)`` part, random effects of ``terms``
that vary by ``group``:

=====================  ===============================================================
``(1 | g)``            random intercept per level of ``g``
``(1 + x | g)``        random intercept and slope of ``x``, correlated (lme4 meaning)
``(x | g)``            the same (as in lme4 the intercept is implied)
``(0 + x | g)``        random slope only
=====================  ===============================================================

Several random terms with the same grouping factor are merged into one block; a second
grouping factor (crossed effects) and the uncorrelated ``||`` syntax raise
:class:`~acie.errors.InputValidationError` (statsmodels' MixedLM has one factor).

Logarithms: **``log`` is the natural logarithm** (as in R, numpy and patsy), **``log10``
the base-10 logarithm** that astronomers write "log" and quote in dex. For masses and
luminosities in M_sun and L_sun, write ``log10(mass)``; with ``log`` every coefficient
that carries a log unit (an intercept, a variance) is ``ln 10 = 2.303`` times the dex
value, while a log–log slope is the same in either base. ``log2``, ``exp``, ``sqrt`` and
``abs`` are available too, each also as ``np.<name>`` (e.g. ``np.log10(mass)``), plus
patsy's ``I()``, ``C()``, ``center()``, ``standardize()``.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass
from typing import Any

import numpy as np

from acie.errors import InputValidationError, expected_got

__all__ = ["FORMULA_FUNCTIONS", "ParsedFormula", "formula_environment", "parse_formula"]

#: Functions a formula may call. ``log`` is the natural logarithm (as in R and numpy);
#: ``log10`` is the base-10 logarithm astronomers write as "log" (dex).
FORMULA_FUNCTIONS: dict[str, Any] = {
    "log": np.log,
    "log10": np.log10,
    "log2": np.log2,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
}
#: The same functions spelled through numpy (``np.log10(mass)``, ``numpy.log10(mass)``).
_NUMPY_SPELLINGS = {f"{mod}.{f}" for mod in ("np", "numpy") for f in FORMULA_FUNCTIONS}
_PATSY_BUILTINS = {
    "I",
    "C",
    "center",
    "standardize",
    "scale",
    "Q",
    "bs",
    "cr",
    "cc",
    "te",
    "Treatment",
    "Sum",
    "Poly",
    "Diff",
    "Helmert",
}


@dataclass(frozen=True)
class ParsedFormula:
    """An lme4-style formula split into its parts.

    Attributes
    ----------
    response : str
        Left-hand side, e.g. ``"log(mass)"``.
    fixed : str
        Patsy formula of the fixed effects, e.g. ``"log(mass) ~ log(luminosity)"``.
    random : str or None
        Patsy right-hand side of the random effects (``"1"``, ``"1 + x"``, ``"0 + x"``).
    group : str or None
        Name of the grouping column.
    variables : tuple of str
        Data columns the formula uses (including the group).
    """

    response: str
    fixed: str
    random: str | None
    group: str | None
    variables: tuple[str, ...]


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` outside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise InputValidationError(f"unbalanced parentheses in formula part {text!r}")
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise InputValidationError(f"unbalanced parentheses in formula part {text!r}")
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _is_op(tok: tokenize.TokenInfo | None, text: str) -> bool:
    return tok is not None and tok.type == tokenize.OP and tok.string == text


def _names(expr: str) -> tuple[set[str], set[str]]:
    """Variable names and called (or dotted) function names of a formula expression.

    ``np.log10(x)`` counts as a call of ``"np.log10"``, not as a variable ``np``.
    """
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(expr).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise InputValidationError(f"cannot read formula part {expr!r}: {exc}") from None
    variables, calls = set(), set()
    i = 0
    while i < len(toks):
        if toks[i].type != tokenize.NAME:
            i += 1
            continue
        chain, j = [toks[i].string], i
        while j + 2 < len(toks) and _is_op(toks[j + 1], ".") and toks[j + 2].type == tokenize.NAME:
            chain.append(toks[j + 2].string)
            j += 2
        nxt = toks[j + 1] if j + 1 < len(toks) else None
        name = ".".join(chain)
        if _is_op(nxt, "(") or len(chain) > 1:
            calls.add(name)
        elif name not in {"and", "or", "not", "in", "is", "True", "False", "None"}:
            variables.add(name)
        i = j + 1
    return variables, calls


def _random_term(term: str, inner: str) -> tuple[str, str]:
    """The terms before ``|`` and the grouping factor of the random term ``(inner)``."""
    if "||" in inner:
        raise InputValidationError(
            f"uncorrelated random effects ('||') are not supported by MixedLM; got "
            f"{term!r}; write one correlated block '(1 + x | g)' instead"
        )
    lhs, _, grp = inner.rpartition("|")
    grp, lhs = grp.strip(), lhs.strip()
    if not grp.isidentifier():
        raise InputValidationError(
            expected_got(f"the grouping factor of {term!r}", "a column name", grp)
        )
    if not lhs:
        raise InputValidationError(f"random term {term!r} has no terms before '|'")
    return lhs, grp


def _random_rhs(random_terms: list[str]) -> str:
    """One patsy right-hand side (``"1 + x"`` or ``"0 + x"``) for the random terms."""
    parts = [p for t in random_terms for p in _split_top(t, "+")]
    no_intercept = any(p in {"0", "-1"} for p in parts)
    slopes = [p for p in parts if p not in {"0", "1", "-1"}]
    if no_intercept and not slopes:
        raise InputValidationError(f"random term(s) {random_terms} have no effects left")
    return " + ".join(["0" if no_intercept else "1", *dict.fromkeys(slopes)])


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4-style formula into fixed and random parts.

    Raises
    ------
    InputValidationError
        Not a string, no ``~``, empty sides, unbalanced parentheses, ``||``, several
        grouping factors, a random term without ``|`` or with a non-name group, or a
        function that is not allowed.
    """
    if not isinstance(formula, str):
        raise InputValidationError(
            expected_got("formula", "a string like 'y ~ x + (1 | g)'", formula)
        )
    sides = _split_top(formula, "~")
    if len(sides) != 2 or not sides[0] or not sides[1]:
        raise InputValidationError(
            expected_got(
                "formula", "one '~' with a response on the left and terms on the right", formula
            )
        )
    response, rhs = sides
    fixed_terms: list[str] = []
    random_terms: list[str] = []
    group: str | None = None
    for term in _split_top(rhs, "+"):
        if not term:
            raise InputValidationError(f"empty term in formula {formula!r} (a stray '+')")
        inner = term[1:-1].strip() if term.startswith("(") and term.endswith(")") else None
        if inner is not None and "|" in inner and len(_split_top(inner, "|")) > 1:
            lhs, grp = _random_term(term, inner)
            if group is not None and grp != group:
                raise InputValidationError(
                    f"MixedLM fits one grouping factor; the formula has {group!r} and "
                    f"{grp!r} (crossed or nested factors are not supported)"
                )
            group = grp
            random_terms.append(lhs)
        elif "|" in term:
            raise InputValidationError(
                expected_got("a random-effects term", "in parentheses, like '(1 | g)'", term)
            )
        else:
            fixed_terms.append(term)
    random = _random_rhs(random_terms) if random_terms else None
    fixed = f"{response} ~ {' + '.join(fixed_terms) if fixed_terms else '1'}"
    variables: set[str] = set()
    for part in (response, *fixed_terms, *(random_terms or [])):
        v, calls = _names(part)
        bad = calls - set(FORMULA_FUNCTIONS) - _NUMPY_SPELLINGS - _PATSY_BUILTINS
        if bad:
            raise InputValidationError(
                f"unknown function(s) {sorted(bad)} in formula {formula!r}; allowed: "
                f"{', '.join(sorted(FORMULA_FUNCTIONS))} (also as np.<name>) and patsy's "
                "I, C, center, standardize"
            )
        variables |= v
    if group is not None:
        variables.add(group)
    return ParsedFormula(
        response=response,
        fixed=fixed,
        random=random,
        group=group,
        variables=tuple(sorted(variables)),
    )


def formula_environment() -> Any:
    """The patsy evaluation environment of formulas: :data:`FORMULA_FUNCTIONS`, ``np``."""
    import patsy

    return patsy.EvalEnvironment([{**FORMULA_FUNCTIONS, "np": np, "numpy": np}])
