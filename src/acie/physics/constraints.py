"""Generic physics constraints: the types, violation scores, training penalty and refusal.

A :class:`ConstraintSet` names a system's state variables and the constraints on them.
Each :class:`Constraint` maps its inputs to a non-negative, dimensionless score per
object (in dex, i.e. the log10 of a ratio by which the object misses the physical set);
0 means physical. The functions here evaluate, penalise and refuse against any such set;
the repair (bounded projection onto the physical set) is :mod:`acie.physics.projection`.
The galaxy table (baryon fraction, virial equilibrium, mass-to-light, stellar age,
flux–distance) is :data:`acie.galaxy.constraints.GALAXY_CONSTRAINTS`, with functions
bound to it in :mod:`acie.galaxy.constraints`.

All functions accept a mapping of names to numpy arrays *or* torch tensors of shape
``(n,)`` (or scalars) and answer in kind; with torch everything is differentiable, so
:func:`penalty` can be added to a training loss. Tolerance and steps are arguments with
the defaults :data:`DEFAULT_TOLERANCE` and :data:`DEFAULT_STEPS` (the defaults of the
``PHYSICS_TOLERANCE`` and ``PHYSICS_STEPS`` settings, which the command line and the
server read and pass down).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from acie.errors import (
    InputValidationError,
    PhysicsViolationError,
    ShapeError,
    UnknownNameError,
    expected_got,
)
from acie.physics._backend import is_torch, namespace

__all__ = [
    "DEFAULT_STEPS",
    "DEFAULT_TOLERANCE",
    "Constraint",
    "ConstraintSet",
    "check",
    "penalty",
    "violation_score",
    "violation_scores",
]

#: Default largest allowed total violation score [dex] (the ``PHYSICS_TOLERANCE`` default).
DEFAULT_TOLERANCE = 0.05

#: Default maximum number of projection steps (the ``PHYSICS_STEPS`` default).
DEFAULT_STEPS = 50


@dataclass(frozen=True)
class Constraint:
    """One physical constraint.

    Attributes
    ----------
    name : str
    inputs : tuple of str
        The names it reads; it is evaluated only when all are present.
    score : callable
        Maps a dict of the inputs (numpy arrays or torch tensors of shape ``(n,)``) to
        the non-negative violation score per object [dex], in the same array type.
    """

    name: str
    inputs: tuple[str, ...]
    score: Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class ConstraintSet:
    """The constraints of a system and the roles of its variables.

    Attributes
    ----------
    constraints : tuple of Constraint
    properties : tuple of str
        State variables a projection may move, in canonical order.
    observations : tuple of str
        Inputs the constraints read that are observations and never move (e.g. a flux).
    ignored : tuple of str
        Names accepted and dropped (e.g. image nuisances that no constraint reads).
    log_parametrised : frozenset of str
        Properties carried linearly but projected in log10, so every move is in dex.
    noun : str
        What one row is, for messages (``"galaxy"``); the plural adds an ``s``.
    """

    constraints: tuple[Constraint, ...]
    properties: tuple[str, ...]
    observations: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    log_parametrised: frozenset[str] = field(default_factory=frozenset)
    noun: str = "object"

    @property
    def inputs(self) -> dict[str, tuple[str, ...]]:
        """Constraint name -> the names it reads."""
        return {c.name: c.inputs for c in self.constraints}


def as_constraint_set(constraints: object) -> ConstraintSet:
    """``constraints`` itself, checked to be a :class:`ConstraintSet`.

    Raises
    ------
    InputValidationError
        ``constraints`` is something else.
    """
    if not isinstance(constraints, ConstraintSet):
        raise InputValidationError(
            expected_got("constraints", "a ConstraintSet", type(constraints).__name__)
        )
    return constraints


def prepare_inputs(props: Mapping, cs: ConstraintSet) -> tuple[dict, int]:
    """Validate names and shapes; return arrays/tensors of shape (n,) and n.

    Raises
    ------
    InputValidationError
        ``props`` is not a mapping.
    UnknownNameError
        A key is neither a property, an observation nor an ignored name of ``cs``.
    ShapeError
        Arrays of more than one dimension or of different lengths.
    """
    if not isinstance(props, Mapping):
        raise InputValidationError(
            f"props must be a mapping of property name to array; got {type(props).__name__}"
        )
    allowed = set(cs.properties) | set(cs.observations) | set(cs.ignored)
    unknown = [k for k in props if k not in allowed]
    if unknown:
        raise UnknownNameError(
            f"unknown property {unknown[0]!r}; the physics constraints know: "
            f"{', '.join(cs.properties + cs.observations)}"
        )
    torch_mode = is_torch(*props.values())
    out: dict = {}
    n = None
    for k, v in props.items():
        if k in cs.ignored:
            continue
        if torch_mode:
            xp = namespace(*props.values())
            like = next(x for x in props.values() if isinstance(x, xp.t.Tensor))
            v = xp.asarray(v, like=like)
            if not v.is_floating_point():
                v = v.to(like.dtype if like.is_floating_point() else xp.t.float64)
        else:
            v = np.asarray(v, dtype=np.float64)
        if v.ndim == 0:
            v = v.reshape(1)
        if v.ndim != 1:
            raise ShapeError(f"{k} must be a scalar or of shape (n,); got shape {tuple(v.shape)}")
        if n is None or n == 1:
            n = v.shape[0] if n is None or v.shape[0] != 1 else n
        if v.shape[0] not in (1, n):
            raise ShapeError(
                f"all properties must have the same length; {k} has {v.shape[0]}, expected {n}"
            )
        out[k] = v
    return out, (n or 0)


def evaluate_scores(p: dict, cs: ConstraintSet, given: Iterable[str]) -> dict:
    """The score of every constraint whose inputs are all in ``p``.

    ``given`` are the caller's keys, named in the error.

    Raises
    ------
    InputValidationError
        When no constraint can be evaluated; the message names what each needs.
    """
    out = {c.name: c.score(p) for c in cs.constraints if all(k in p for k in c.inputs)}
    if not out:
        raise InputValidationError(
            "no physics constraint can be evaluated: each needs one of these sets of inputs: "
            + "; ".join(f"{c.name}: {', '.join(c.inputs)}" for c in cs.constraints)
            + f"; got {sorted(given)}"
        )
    return out


def validate_tolerance(tolerance: object) -> float:
    """``tolerance`` [dex] as a float.

    Raises
    ------
    InputValidationError
        Not a number, or negative.
    """
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float | np.floating)
        or not tolerance >= 0
    ):
        raise InputValidationError(expected_got("tolerance", "a number >= 0", tolerance))
    return float(tolerance)


def violation_scores(props: Mapping, constraints: ConstraintSet) -> dict:
    """Per-constraint violation scores [dex, dimensionless], each of shape ``(n,)``.

    Parameters
    ----------
    props : mapping of str to array-like or torch.Tensor
        Values of the set's properties and observations; ignored names are dropped.
    constraints : ConstraintSet

    Returns
    -------
    dict of str to ndarray or Tensor
        Only the constraints whose inputs are all present.

    Raises
    ------
    UnknownNameError
        A key is neither a property, an observation nor an ignored name of the set.
    ShapeError
        Arrays of different lengths or more than one dimension.
    InputValidationError
        No constraint can be evaluated from the given keys, or ``constraints`` is not a
        :class:`ConstraintSet`.
    """
    cs = as_constraint_set(constraints)
    p, _ = prepare_inputs(props, cs)
    return evaluate_scores(p, cs, props)


def violation_score(props: Mapping, constraints: ConstraintSet):
    """Total violation per object: the sum of :func:`violation_scores` [dex], 0 when physical."""
    scores = list(violation_scores(props, constraints).values())
    total = scores[0]
    for s in scores[1:]:
        total = total + s
    return total


def penalty(props: Mapping, constraints: ConstraintSet):
    """Differentiable training penalty: mean over objects of the summed squared scores.

    Returns a 0-d torch tensor (numpy inputs are converted to float64 tensors).
    """
    import torch

    cs = as_constraint_set(constraints)
    if not is_torch(*props.values()):
        props = {
            k: torch.as_tensor(np.asarray(v, dtype=np.float64))
            for k, v in props.items()
            if k not in cs.ignored
        }
    scores = violation_scores(props, cs)
    total = sum(s**2 for s in scores.values())
    return total.mean()


def check(
    props: Mapping, constraints: ConstraintSet, *, tolerance: float = DEFAULT_TOLERANCE
) -> np.ndarray:
    """Return the total violation per object, or refuse if any exceeds ``tolerance``.

    Raises
    ------
    PhysicsViolationError
        With ``score`` (the worst object's total) and ``tolerance``; the message names the
        object and the constraint that dominates its score.
    """
    tolerance = validate_tolerance(tolerance)
    cs = as_constraint_set(constraints)
    scores = violation_scores(props, cs)
    as_np = {
        k: (v.detach().cpu().numpy() if is_torch(v) else np.asarray(v)) for k, v in scores.items()
    }
    total: np.ndarray = np.sum(list(as_np.values()), axis=0)
    worst = int(np.argmax(total))
    if total[worst] > tolerance:
        name = max(as_np, key=lambda k: as_np[k][worst])
        n_bad = int((total > tolerance).sum())
        raise PhysicsViolationError(
            f"{n_bad} of {total.size} {cs.noun}s violate physics beyond tolerance {tolerance:g}: "
            f"{cs.noun} {worst} has total score {total[worst]:.3g} dex, mostly {name} "
            f"({as_np[name][worst]:.3g} dex)",
            score=float(total[worst]),
            tolerance=tolerance,
        )
    return total
