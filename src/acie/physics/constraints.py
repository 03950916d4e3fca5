"""Generic physics constraints: violation scores, penalty, projection and refusal.

A :class:`ConstraintSet` names a system's state variables and the constraints on them.
Each :class:`Constraint` maps its inputs to a non-negative, dimensionless score per
object (in dex, i.e. the log10 of a ratio by which the object misses the physical set);
0 means physical. The functions here evaluate, penalise and repair against any such set;
the galaxy table (baryon fraction, virial equilibrium, mass-to-light, stellar age,
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
    "ProjectionResult",
    "check",
    "enforce",
    "penalty",
    "project",
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


def _validate_set(constraints: object) -> ConstraintSet:
    if not isinstance(constraints, ConstraintSet):
        raise InputValidationError(
            expected_got("constraints", "a ConstraintSet", type(constraints).__name__)
        )
    return constraints


def _prepare(props: Mapping, cs: ConstraintSet) -> tuple[dict, int]:
    """Validate names and shapes; return arrays/tensors of shape (n,) and n."""
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


def _scores(p: dict, cs: ConstraintSet, given: Iterable[str]) -> dict:
    out = {c.name: c.score(p) for c in cs.constraints if all(k in p for k in c.inputs)}
    if not out:
        raise InputValidationError(
            "no physics constraint can be evaluated: each needs one of these sets of inputs: "
            + "; ".join(f"{c.name}: {', '.join(c.inputs)}" for c in cs.constraints)
            + f"; got {sorted(given)}"
        )
    return out


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
    cs = _validate_set(constraints)
    p, _ = _prepare(props, cs)
    return _scores(p, cs, props)


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

    cs = _validate_set(constraints)
    if not is_torch(*props.values()):
        props = {
            k: torch.as_tensor(np.asarray(v, dtype=np.float64))
            for k, v in props.items()
            if k not in cs.ignored
        }
    scores = violation_scores(props, cs)
    total = sum(s**2 for s in scores.values())
    return total.mean()


@dataclass(frozen=True)
class ProjectionResult:
    """Outcome of :func:`project`.

    Attributes
    ----------
    properties : dict
        Projected values, same keys and array type as the input.
    score : ndarray
        Total violation per object after projection [dex].
    initial_score : ndarray
        Total violation per object before projection [dex].
    steps : int
        Projection steps taken.
    converged : bool
        Whether every object ends at or below ``tolerance``.
    tolerance : float
    moved : tuple of str
        The properties the projection was allowed to change.
    """

    properties: dict
    score: np.ndarray
    initial_score: np.ndarray
    steps: int
    converged: bool
    tolerance: float
    moved: tuple[str, ...] = field(default=())


def _validated(steps: object, tolerance: object) -> tuple[int, float]:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise InputValidationError(expected_got("steps", "an integer >= 0", steps))
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float | np.floating)
        or not tolerance >= 0
    ):
        raise InputValidationError(expected_got("tolerance", "a number >= 0", tolerance))
    return int(steps), float(tolerance)


def project(
    props: Mapping,
    constraints: ConstraintSet,
    *,
    steps: int = DEFAULT_STEPS,
    tolerance: float = DEFAULT_TOLERANCE,
    fixed: Iterable[str] = (),
    max_step_dex: float = 1.0,
) -> ProjectionResult:
    """Bounded projection onto the physical manifold of ``constraints``.

    Each step moves every violating object by the minimum-norm step (in dex: the
    properties as given, those of ``constraints.log_parametrised`` in log10) that zeroes
    the linearised total violation, capped at ``max_step_dex``, until every score is at
    most ``tolerance`` or ``steps`` steps are spent. Objects already within tolerance
    are not touched. Observations (e.g. flux, distance) never move.

    Parameters
    ----------
    props : mapping of str to array-like or torch.Tensor
    constraints : ConstraintSet
    steps : int
        Maximum number of steps (default :data:`DEFAULT_STEPS`; 0 = score only).
    tolerance : float
        Target violation score [dex] (default :data:`DEFAULT_TOLERANCE`).
    fixed : iterable of str
        Properties that must not move, e.g. the intervened nodes of a counterfactual.
    max_step_dex : float
        Largest move per step (Euclidean norm over the moved properties) [dex].

    Raises
    ------
    InputValidationError
        Negative ``steps`` or ``tolerance``.
    UnknownNameError
        A name in ``fixed`` is not a property of ``constraints``.
    """
    import torch

    cs = _validate_set(constraints)
    steps, tolerance = _validated(steps, tolerance)
    fixed = set(fixed)
    for f in fixed:
        if f not in cs.properties:
            raise UnknownNameError(
                f"unknown property {f!r} in fixed; properties are: {', '.join(cs.properties)}"
            )
    was_torch = is_torch(*props.values())
    p, n = _prepare(props, cs)
    ref = next(iter(p.values()))
    dtype = torch.float64
    device = ref.device if was_torch else None
    tens = {
        k: (v.detach().to(dtype) if was_torch else torch.as_tensor(v, dtype=dtype))
        .expand(n)
        .clone()
        for k, v in p.items()
    }
    movable = tuple(k for k in cs.properties if k in tens and k not in fixed)
    logp = cs.log_parametrised
    # work in log10 for the linear quantities so that every coordinate is in dex
    free = {}
    for k in movable:
        v = tens[k]
        free[k] = torch.log10(v.clamp_min(1e-30)) if k in logp else v.clone()

    def current(free_vals):
        out = dict(tens)
        for k, v in free_vals.items():
            out[k] = 10.0**v if k in logp else v
        return out

    def total_score(free_vals):
        scores = list(_scores(current(free_vals), cs, props).values())
        return sum(scores[1:], scores[0])

    with torch.no_grad():
        initial = total_score(free)
    score = initial
    taken = 0
    touched = torch.zeros(n, dtype=torch.bool, device=device)
    while taken < steps and movable:
        active = score > tolerance
        if not bool(active.any()):
            break
        with torch.enable_grad():  # callers may run under torch.no_grad()
            leaves = {k: v.detach().requires_grad_(True) for k, v in free.items()}
            total = total_score(leaves)
            grads = torch.autograd.grad(total.sum(), list(leaves.values()), allow_unused=True)
        grads = [
            g if g is not None else torch.zeros_like(v)
            for g, v in zip(grads, leaves.values(), strict=True)
        ]
        norm2 = sum(g**2 for g in grads)
        # overshoot slightly below the tolerance so hinge corners are crossed
        target = torch.clamp(total.detach() - 0.5 * tolerance, min=0.0)
        scale = torch.where(
            active & (norm2 > 0), target / norm2.clamp_min(1e-300), torch.zeros_like(norm2)
        )
        step_norm = scale * norm2.sqrt()
        scale = torch.where(
            step_norm > max_step_dex, scale * max_step_dex / step_norm.clamp_min(1e-300), scale
        )
        touched |= scale != 0
        free = {
            k: (v.detach() - scale * g) for (k, v), g in zip(leaves.items(), grads, strict=True)
        }
        with torch.no_grad():
            score = total_score(free)
        taken += 1
    final = current(free)
    out: dict = {}
    for k, v in props.items():
        if k in movable:
            # objects never moved keep their exact input values (no log/exp round trip)
            val = torch.where(touched, final[k].detach(), tens[k])
            if was_torch:
                out[k] = val.to(dtype=v.dtype if v.is_floating_point() else dtype, device=device)
            else:
                out[k] = val.numpy().astype(np.float64)
        else:
            out[k] = v
    score_np = score.detach().cpu().numpy()
    return ProjectionResult(
        properties=out,
        score=score_np,
        initial_score=initial.detach().cpu().numpy(),
        steps=taken,
        converged=bool((score_np <= tolerance).all()),
        tolerance=tolerance,
        moved=movable,
    )


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
    _, tolerance = _validated(0, tolerance)
    cs = _validate_set(constraints)
    scores = violation_scores(props, cs)
    as_np = {
        k: (v.detach().cpu().numpy() if is_torch(v) else np.asarray(v)) for k, v in scores.items()
    }
    total = sum(as_np.values())
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


def enforce(
    props: Mapping,
    constraints: ConstraintSet,
    *,
    steps: int = DEFAULT_STEPS,
    tolerance: float = DEFAULT_TOLERANCE,
    fixed: Iterable[str] = (),
) -> ProjectionResult:
    """Project onto the physical manifold, then refuse if the residual stays above tolerance.

    The PHYSICS_CHECK stage of a counterfactual: :func:`project` with ``fixed`` (typically
    the intervened nodes) followed by the refusal of :func:`check`.

    Raises
    ------
    PhysicsViolationError
        The projection could not bring every object within ``tolerance`` in ``steps`` steps.
    """
    cs = _validate_set(constraints)
    fixed = tuple(fixed)
    result = project(props, cs, steps=steps, tolerance=tolerance, fixed=fixed)
    if not result.converged:
        worst = int(np.argmax(result.score))
        raise PhysicsViolationError(
            f"counterfactual refused: after {result.steps} projection steps {cs.noun} {worst} still "
            f"has violation score {result.score[worst]:.3g} dex > tolerance {result.tolerance:g} "
            f"(fixed: {', '.join(sorted(fixed)) or 'none'})",
            score=float(result.score[worst]),
            tolerance=result.tolerance,
        )
    return result
