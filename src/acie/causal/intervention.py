"""Interventions: hard (``x := value``) and soft (``x := h(natural x)``), and the ``do`` handler.

``do`` works three ways, after the effect handlers of Pyro and NumPyro:

* as a function returning the mutilated model: ``do(scm, {"x": 1.0})``
  (the same as ``scm.do({"x": 1.0})``);
* as a context manager: ``with do({"x": 1.0}): scm.sample(...)``, where every
  sampling or counterfactual call inside the block sees the intervention;
* nested blocks compose; an inner block overrides an outer one on the same node.

A value that is callable is a *soft* intervention, applied to the node's natural
value (its incoming edges are kept); anything else is a *hard* one (a scalar, a
per-unit 1-D array, or an astropy Quantity in the node's declared unit), and the
node's incoming edges are removed.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from acie.errors import InvalidInterventionError, expected_got

if TYPE_CHECKING:
    from acie.causal.scm import StructuralCausalModel

__all__ = ["active_interventions", "do", "is_soft"]

_ACTIVE: contextvars.ContextVar[tuple[Mapping[str, Any], ...]] = contextvars.ContextVar(
    "acie_causal_active_interventions", default=()
)


def is_soft(value: object) -> bool:
    """Whether an intervention value is soft (a function of the natural value)."""
    return callable(value)


def active_interventions() -> dict[str, Any]:
    """The interventions of the enclosing ``with do(...)`` blocks, inner ones winning."""
    merged: dict[str, Any] = {}
    for layer in _ACTIVE.get():
        merged.update(layer)
    return merged


@contextmanager
def _handler(interventions: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    token = _ACTIVE.set((*_ACTIVE.get(), dict(interventions)))
    try:
        yield dict(interventions)
    finally:
        _ACTIVE.reset(token)


def do(
    model_or_interventions: StructuralCausalModel | Mapping[str, Any],
    interventions: Mapping[str, Any] | None = None,
    /,
) -> Any:
    """Intervene: return a mutilated model, or open an intervention block.

    Parameters
    ----------
    model_or_interventions : StructuralCausalModel or mapping
        With a model, ``interventions`` is required and the mutilated model is
        returned. With a mapping ``node -> value``, a context manager is returned.
    interventions : mapping of str to value or callable, optional
        ``node -> value`` (hard) or ``node -> h`` with ``h(natural) -> new`` (soft).

    Returns
    -------
    StructuralCausalModel or context manager

    Examples
    --------
    >>> with do({"stellar_mass": 11.0}):           # doctest: +SKIP
    ...     df = scm.sample(1000, seed=0)
    >>> mutilated = do(scm, {"stellar_mass": lambda m: m + 0.3})  # doctest: +SKIP
    """
    from acie.causal.scm import StructuralCausalModel

    if isinstance(model_or_interventions, StructuralCausalModel):
        if interventions is None:
            raise InvalidInterventionError(
                expected_got("interventions", "a mapping node -> value", None)
            )
        return model_or_interventions.do(interventions)
    if interventions is not None:
        raise InvalidInterventionError(
            expected_got(
                "the first argument of do(x, interventions)",
                "a StructuralCausalModel",
                type(model_or_interventions).__name__,
            )
        )
    if not isinstance(model_or_interventions, Mapping):
        raise InvalidInterventionError(
            expected_got(
                "interventions",
                "a mapping node -> value or callable",
                type(model_or_interventions).__name__,
            )
        )
    return _handler(model_or_interventions)


def hard_value(node: str, value: Any, unit: Any | None) -> np.ndarray:
    """Validate a hard intervention value and strip its unit (to the node's unit)."""
    if hasattr(value, "unit") and hasattr(value, "to_value"):
        if unit is None:
            raise InvalidInterventionError(
                f"intervention on {node!r} has unit {value.unit}, but the model declares "
                "no unit for that node; pass a plain number"
            )
        try:
            value = value.to_value(unit)
        except Exception as exc:  # astropy UnitConversionError
            raise InvalidInterventionError(
                f"intervention on {node!r} must be in units convertible to {unit}; got {value.unit}"
            ) from exc
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInterventionError(
            expected_got(
                f"the intervention value for {node!r}", "a number, a 1-D array or a callable", value
            )
        ) from exc
    if arr.ndim > 1 or not np.all(np.isfinite(arr)):
        raise InvalidInterventionError(
            expected_got(
                f"the intervention value for {node!r}",
                "finite, scalar or 1-D",
                f"shape {arr.shape}" if arr.ndim > 1 else value,
            )
        )
    return arr


SoftIntervention = Callable[[np.ndarray], Any]
