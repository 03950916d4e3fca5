"""Data-frame columns made into estimator arrays, with every encoding said out loud.

:func:`encode_columns` checks that treatment, outcome and covariates are distinct
columns, and turns them into float arrays:

* the outcome must be numeric (or boolean);
* a treatment with the values 0 and 1 (or booleans) is binary; a two-valued string
  treatment (yes/no, true/false, treated/control, …) is mapped to 1/0 and the mapping
  is reported; any other two-valued numeric treatment (0/2, 1/2) is refused unless
  ``treatment_type`` says whether it is binary (lower value → 0) or continuous; a
  numeric treatment with more values is continuous;
* categorical (string, category, boolean) covariates are one-hot encoded, the first
  level (sorted) dropped as the reference.

Missing values are refused with the columns named; nothing is imputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from acie.errors import InputValidationError, UnknownNameError, expected_got

__all__ = ["EncodedColumns", "encode_columns"]

_POSITIVE = {"yes", "y", "true", "t", "treated", "treatment", "on", "1"}
_NEGATIVE = {"no", "n", "false", "f", "control", "untreated", "off", "0"}


@dataclass(frozen=True)
class EncodedColumns:
    """Float arrays ready for the estimators, and how they were made.

    Attributes
    ----------
    outcome, treatment : numpy.ndarray, shape (n,)
    covariates : numpy.ndarray, shape (n, p)
    covariate_names : tuple of str
        Names of the covariate columns after one-hot encoding (``"colour=red"``).
    treatment_kind : str or None
        ``"binary"`` or ``"continuous"`` when the data or ``treatment_type`` decided it.
    notes : list of str
        One sentence per encoding applied (empty when the columns were used as they are).
    """

    outcome: np.ndarray
    treatment: np.ndarray
    covariates: np.ndarray
    covariate_names: tuple[str, ...]
    treatment_kind: str | None
    notes: list[str] = field(default_factory=list)


def _numeric(col: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))


def _treatment(col: pd.Series, name: str, treatment_type: str | None) -> tuple[Any, Any, str]:
    """(values, kind, note) of the treatment column."""
    levels = pd.unique(col)
    if pd.api.types.is_bool_dtype(col):
        return col.astype(float).to_numpy(), "binary", ""
    if _numeric(col):
        values = col.to_numpy(dtype=float)
        distinct = np.unique(values)
        if len(distinct) == 2 and not np.array_equal(distinct, [0.0, 1.0]):
            if treatment_type is None:
                raise InputValidationError(
                    expected_got(
                        f"treatment {name!r}",
                        "0/1 values, or treatment_type 'binary' or 'continuous' to say "
                        "how to read two other values",
                        f"the two values {distinct[0]:g} and {distinct[1]:g}",
                    )
                )
            if treatment_type == "binary":
                note = f"treatment {name!r}: {distinct[0]:g} -> 0, {distinct[1]:g} -> 1"
                return (values == distinct[1]).astype(float), "binary", note
        return values, treatment_type, ""
    if treatment_type == "continuous":
        raise InputValidationError(
            expected_got(f"continuous treatment {name!r}", "numeric values", col.dtype)
        )
    if len(levels) != 2:
        shown = ", ".join(map(repr, sorted(map(str, levels))[:5]))
        raise InputValidationError(
            expected_got(
                f"treatment {name!r}",
                "numeric values or exactly two labels",
                f"{len(levels)} labels ({shown}{', …' if len(levels) > 5 else ''})",
            )
        )
    labels = sorted(str(v) for v in levels)
    pos = [lab for lab in labels if lab.strip().lower() in _POSITIVE]
    neg = [lab for lab in labels if lab.strip().lower() in _NEGATIVE]
    one = pos[0] if len(pos) == 1 and len(neg) == 1 else labels[1]
    zero = labels[0] if one == labels[1] else labels[1]
    note = f"treatment {name!r}: {one!r} -> 1, {zero!r} -> 0"
    return (col.astype(str) == one).to_numpy(dtype=float), "binary", note


def encode_columns(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] = (),
    extra: Sequence[str] = (),
    treatment_type: str | None = None,
) -> EncodedColumns:
    """Validate and encode the columns of an effect estimate.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.
    treatment, outcome : str
        Column names (distinct).
    covariates : sequence of str
        Adjustment columns (distinct from each other, the treatment and the outcome).
    extra : sequence of str
        Other role columns (instruments, mediators) that must also be distinct from all
        of the above; checked here, not encoded.
    treatment_type : {"binary", "continuous"}, optional
        How to read a treatment the data leave ambiguous (see the module docstring).

    Returns
    -------
    EncodedColumns

    Raises
    ------
    acie.errors.UnknownNameError
        A column is missing; the message lists the available ones.
    acie.errors.InputValidationError
        Columns repeated across roles, a non-numeric outcome, missing values, an
        ambiguous or unreadable treatment.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(expected_got("data", "a pandas DataFrame", type(data).__name__))
    if treatment_type not in (None, "binary", "continuous"):
        raise InputValidationError(
            expected_got("treatment_type", "'binary', 'continuous' or None", treatment_type)
        )
    roles = [treatment, outcome, *covariates, *extra]
    for col in roles:
        if col not in data.columns:
            raise UnknownNameError(
                f"unknown column {col!r}; the columns are: {', '.join(map(str, data.columns))}"
            )
    repeated = sorted({c for c in roles if roles.count(c) > 1})
    if repeated:
        raise InputValidationError(
            expected_got(
                "treatment, outcome, covariates (and instruments or mediators)",
                "distinct columns",
                f"{', '.join(map(repr, repeated))} in more than one role",
            )
        )
    frame = data[[treatment, outcome, *covariates]]
    missing = [str(c) for c in frame.columns if frame[c].isna().any()]
    if missing:
        raise InputValidationError(
            expected_got("the columns used", "no missing values", f"NaN in {', '.join(missing)}")
        )
    if not _numeric(data[outcome]):
        raise InputValidationError(
            expected_got(f"outcome {outcome!r}", "numeric values", str(data[outcome].dtype))
        )
    t, kind, note = _treatment(data[treatment], treatment, treatment_type)
    notes = [note] if note else []
    parts, names = [], []
    for col in covariates:
        series = data[col]
        if _numeric(series) and not pd.api.types.is_bool_dtype(series):
            parts.append(series.to_numpy(dtype=float)[:, None])
            names.append(str(col))
            continue
        levels = sorted(pd.unique(series.astype(str)))
        dummies = [series.astype(str).to_numpy() == lev for lev in levels[1:]]
        parts.extend(d.astype(float)[:, None] for d in dummies)
        names.extend(f"{col}={lev}" for lev in levels[1:])
        notes.append(
            f"covariate {col!r}: one-hot encoded, {len(levels) - 1} columns "
            f"(reference level {levels[0]!r})"
        )
    x = np.hstack(parts) if parts else np.empty((len(data), 0))
    return EncodedColumns(
        outcome=data[outcome].to_numpy(dtype=float),
        treatment=t,
        covariates=x,
        covariate_names=tuple(names),
        treatment_kind=kind,
        notes=notes,
    )
