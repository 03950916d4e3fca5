"""Absolute and relative interventions: ``do(M* = 10^10.8)`` and ``do(M* = 2 x its own)``.

An intervention on a property node is given in one of four forms:

``10.8`` (a number or an array (n,))
    the absolute target value, in the node's unit (:data:`acie.galaxy.properties.UNITS`);
``{"value": 10.8}``
    the same, spelled out;
``{"shift": 0.301}``
    the galaxy's own abducted value plus ``shift``, in the node's unit (dex on a
    ``log_*`` node, so ``{"log_stellar_mass": {"shift": 0.301}}`` doubles M*);
``{"factor": 2.0}``
    the galaxy's own abducted quantity times ``factor > 0``. On a logarithmic node
    (:data:`LOG_NODES`: every ``log_*`` node and ``metallicity`` = 12 + log10(O/H)) the
    factor applies to the linear quantity, so the node is shifted by ``log10(factor)``
    dex; on a linear node (``age``, ``sersic_n``, ``velocity_dispersion``) the node's value
    is multiplied.

Relative forms are resolved per galaxy against the abducted value (the posterior mean of
``q(s|x)``), so "M* x 2" does not inherit the encoder's error on M* itself. A target
outside the calibrated range :data:`acie.galaxy.properties.RANGES` (or the physical
domain) after applying is refused for that galaxy (:func:`out_of_range`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from acie.errors import InvalidInterventionError, NonPhysicalValueError, ShapeError, expected_got
from acie.galaxy.properties import PROPERTY_NAMES

__all__ = [
    "KINDS",
    "LOG_NODES",
    "Intervention",
    "out_of_range",
    "parse_intervention",
]

#: The forms of an intervention (see the module docstring).
KINDS = ("value", "shift", "factor")


def _is_log(name: str) -> bool:
    return name.startswith("log_") or name == "metallicity"


#: Nodes holding a log10 quantity: a factor on them is a shift of log10(factor) dex.
LOG_NODES: tuple[str, ...] = tuple(n for n in PROPERTY_NAMES if _is_log(n))


@dataclass(frozen=True)
class Intervention:
    """One node's intervention for a batch of ``n`` galaxies.

    Attributes
    ----------
    name : str
        The property node.
    kind : str
        One of :data:`KINDS`.
    amount : ndarray (n,) float64
        The value, shift [node unit] or factor [dimensionless] per galaxy.
    """

    name: str
    kind: str
    amount: np.ndarray

    @property
    def relative(self) -> bool:
        """Whether the target depends on the galaxy's own abducted value."""
        return self.kind != "value"

    def target(self, abducted: np.ndarray) -> np.ndarray:
        """The target values (n,) in the node's unit, given the abducted values (n,)."""
        a = np.asarray(abducted, dtype=np.float64)
        if self.kind == "value":
            return np.broadcast_to(self.amount, a.shape).astype(np.float64)
        if self.kind == "shift":
            return a + self.amount
        if _is_log(self.name):
            return a + np.log10(self.amount)
        return a * self.amount

    def describe(self, i: int) -> str:
        """A short human form of galaxy ``i``'s intervention (for refusal reasons)."""
        amount = float(self.amount[i])
        if self.kind == "value":
            return f"{self.name} = {amount:g}"
        if self.kind == "shift":
            return f"{self.name} shifted by {amount:+g}"
        return f"{self.name} times {amount:g}" + (
            f" (shift {np.log10(amount):+.4g} dex)" if _is_log(self.name) else ""
        )


def _amount(name: str, kind: str, raw: object, n: int) -> np.ndarray:
    if isinstance(raw, bool | str | bytes) or raw is None:
        raise InvalidInterventionError(
            expected_got(f"{kind} of the intervention on {name!r}", "a number", repr(raw))
        )
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInterventionError(
            expected_got(f"{kind} of the intervention on {name!r}", "a number", repr(raw))
        ) from None
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n):
        raise ShapeError(
            expected_got(
                f"{kind} of the intervention on {name!r}", f"a scalar or ({n},)", arr.shape
            )
        )
    arr = np.broadcast_to(arr, (n,)).copy()
    if not np.all(np.isfinite(arr)):
        raise NonPhysicalValueError(
            expected_got(f"{kind} of the intervention on {name!r}", "finite numbers", arr[:3])
        )
    if kind == "factor" and not np.all(arr > 0):
        raise NonPhysicalValueError(
            expected_got(
                f"factor of the intervention on {name!r}", "> 0", arr[~(arr > 0)][:3].tolist()
            )
        )
    return arr


def parse_intervention(name: str, spec: object, n: int) -> Intervention:
    """Check one node's intervention ``spec`` (any form of the module docstring).

    Absolute values are checked at once against the physical domain and the calibrated
    range (:func:`acie.galaxy.properties.validate_values`); relative ones once their
    targets are known (:func:`out_of_range`).

    Raises
    ------
    InvalidInterventionError
        A mapping with no or several keys, an unknown kind, or a non-numeric amount.
    ShapeError
        An amount that is neither a scalar nor of shape (n,).
    NonPhysicalValueError
        A non-finite amount, or a factor <= 0.
    OutOfRangeError
        An absolute value outside the calibrated range.
    """
    from acie.galaxy.properties import validate_values

    if isinstance(spec, Mapping) and not hasattr(spec, "unit"):
        keys = list(spec)
        if len(keys) != 1 or keys[0] not in KINDS:
            raise InvalidInterventionError(
                expected_got(
                    f"intervention on {name!r}",
                    'a number or one of {"value": v}, {"shift": d}, {"factor": f > 0}',
                    f"a mapping with keys {keys}",
                )
            )
        kind = str(keys[0])
        if kind == "value":
            return Intervention(name, "value", validate_values(name, spec[kind], n=n))
        return Intervention(name, kind, _amount(name, kind, spec[kind], n))
    if isinstance(spec, bool | str | bytes) or spec is None:
        raise InvalidInterventionError(
            expected_got(f"intervention on {name!r}", "a number or a mapping", repr(spec))
        )
    return Intervention(name, "value", validate_values(name, spec, n=n, check_range=True))


def out_of_range(name: str, target: np.ndarray) -> np.ndarray:
    """Which targets (n,) fall outside the node's calibrated range or physical domain."""
    from acie.galaxy.properties import RANGES

    t = np.asarray(target, dtype=np.float64)
    rng = RANGES[name]
    return ~(np.isfinite(t) & (t >= rng.low) & (t <= rng.high))
