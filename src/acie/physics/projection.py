"""Bounded projection onto the physical set of a :class:`~acie.physics.constraints.ConstraintSet`.

:func:`project` moves every violating object by minimum-norm steps in dex (torch
autograd through the constraint scores) until its total violation is within tolerance
or the step budget is spent; :func:`enforce` is the PHYSICS_CHECK stage of a
counterfactual: project with the intervened nodes held fixed, then refuse with
:class:`~acie.errors.PhysicsViolationError` if the residual stays above tolerance. The
types and the scores are in :mod:`acie.physics.constraints`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from acie.errors import InputValidationError, PhysicsViolationError, UnknownNameError, expected_got
from acie.physics._backend import is_torch
from acie.physics.constraints import (
    DEFAULT_STEPS,
    DEFAULT_TOLERANCE,
    ConstraintSet,
    as_constraint_set,
    evaluate_scores,
    prepare_inputs,
    validate_tolerance,
)

__all__ = ["ProjectionResult", "enforce", "project"]


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
    return int(steps), validate_tolerance(tolerance)


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

    cs = as_constraint_set(constraints)
    steps, tolerance = _validated(steps, tolerance)
    fixed = set(fixed)
    for f in fixed:
        if f not in cs.properties:
            raise UnknownNameError(
                f"unknown property {f!r} in fixed; properties are: {', '.join(cs.properties)}"
            )
    was_torch = is_torch(*props.values())
    p, n = prepare_inputs(props, cs)
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
        scores = list(evaluate_scores(current(free_vals), cs, props).values())
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
            raw = torch.autograd.grad(total.sum(), list(leaves.values()), allow_unused=True)
        grads = [
            g if g is not None else torch.zeros_like(v)
            for g, v in zip(raw, leaves.values(), strict=True)
        ]
        norm2 = torch.stack([g**2 for g in grads]).sum(dim=0)
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
    cs = as_constraint_set(constraints)
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
