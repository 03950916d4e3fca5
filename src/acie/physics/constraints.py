"""Physics constraints on galaxy properties: violation scores, penalty, projection, refusal.

Every constraint gives a non-negative, dimensionless score per galaxy (in dex, i.e. the
log10 of a ratio by which the galaxy misses the physical set); 0 means physical.

==================  =======================================================  ==================
name                what it measures                                         inputs
==================  =======================================================  ==================
``baryon_fraction``  ``max(0, log10((M_*+M_gas) / (f_b M_h)))``              halo, stellar, gas
``virial``           ``max(0, |log10(sigma^2 / sigma_vir^2)| - band)``        halo, stellar, gas,
                     with ``sigma_vir^2 = G M_dyn / (beta(n) R_e)``           size, n, sigma
``mass_to_light``    distance of ``log10(M_*/L_r)`` outside [-1, 1]           stellar, luminosity
``stellar_age``      ``max(0, age - t_0) / t_0``, ``t_0`` = age of Universe   age
``flux_distance``    ``|log10(4 pi d_L^2 F_r / L_r)|`` (less 1e-9 rounding)  luminosity,
                                                                            ``flux_r`` [nmgy],
                                                                            ``luminosity_distance``
                                                                            [Mpc]
==================  =======================================================  ==================

The virial band is :data:`VIRIAL_BAND_DEX` = 0.3 dex, about four times the 0.08 dex
scatter of virial masses (Cappellari et al. 2006), so galaxies drawn from
:class:`acie.galaxy.simulator.GalaxySimulator` score 0 to within its stated scatter.
Only the constraints whose inputs are present are evaluated.

All functions accept a mapping of names to numpy arrays *or* torch tensors of shape
``(n,)`` (or scalars) and answer in kind; with torch everything is differentiable, so
:func:`penalty` can be added to a training loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from acie.errors import (
    InputValidationError,
    PhysicsViolationError,
    ShapeError,
    UnknownNameError,
)
from acie.galaxy.properties import AGE_OF_UNIVERSE_GYR, NUISANCE_NAMES, PROPERTY_NAMES
from acie.physics._backend import is_torch, namespace
from acie.physics.conservation import baryon_excess, luminosity_from_flux, mass_to_light_excess
from acie.physics.virial import virial_residual

__all__ = [
    "CONSTRAINT_INPUTS",
    "EXTRA_NAMES",
    "FLUX_DISTANCE_ROUNDING_DEX",
    "R_BAND_ABS_MAG_SUN",
    "VIRIAL_BAND_DEX",
    "ProjectionResult",
    "check",
    "enforce",
    "fixed_for_counterfactual",
    "penalty",
    "project",
    "violation_score",
    "violation_scores",
]

#: Allowed deviation of ``log10 sigma^2`` from virial equilibrium before it counts [dex].
VIRIAL_BAND_DEX = 0.3

#: Rounding allowance of the flux–distance identity [dex] (floating-point magnitudes).
FLUX_DISTANCE_ROUNDING_DEX = 1e-9

#: Absolute AB magnitude of the Sun in SDSS r (Willmer 2018, ApJS 236, 47, Table 3).
R_BAND_ABS_MAG_SUN = 4.65

#: Extra (non-property) inputs the constraints understand.
EXTRA_NAMES: tuple[str, ...] = ("flux_r", "luminosity_distance")

#: Inputs of each constraint.
CONSTRAINT_INPUTS: dict[str, tuple[str, ...]] = {
    "baryon_fraction": ("log_halo_mass", "log_stellar_mass", "log_gas_mass"),
    "virial": (
        "log_halo_mass",
        "log_stellar_mass",
        "log_gas_mass",
        "log_size",
        "sersic_n",
        "velocity_dispersion",
    ),
    "mass_to_light": ("log_stellar_mass", "log_luminosity"),
    "stellar_age": ("age",),
    "flux_distance": ("log_luminosity", "flux_r", "luminosity_distance"),
}


def _virial(p):
    xp = namespace(*p.values())
    r = virial_residual(
        p["log_halo_mass"],
        p["log_stellar_mass"],
        p["log_gas_mass"],
        p["log_size"],
        p["sersic_n"],
        p["velocity_dispersion"],
    )
    return xp.relu(xp.abs(r) - VIRIAL_BAND_DEX)


def _age(p):
    xp = namespace(p["age"])
    age = p["age"]
    return (xp.relu(age - AGE_OF_UNIVERSE_GYR) + xp.relu(-age)) / AGE_OF_UNIVERSE_GYR


def _flux(p):
    xp = namespace(*p.values())
    logl = luminosity_from_flux(p["flux_r"], p["luminosity_distance"], R_BAND_ABS_MAG_SUN)
    return xp.relu(xp.abs(logl - p["log_luminosity"]) - FLUX_DISTANCE_ROUNDING_DEX)


_SCORES: dict[str, Callable] = {
    "baryon_fraction": lambda p: baryon_excess(
        p["log_halo_mass"], p["log_stellar_mass"], p["log_gas_mass"]
    ),
    "virial": _virial,
    "mass_to_light": lambda p: mass_to_light_excess(p["log_stellar_mass"], p["log_luminosity"]),
    "stellar_age": _age,
    "flux_distance": _flux,
}


def _prepare(props: Mapping) -> tuple[dict, int]:
    """Validate names and shapes; return arrays/tensors of shape (n,) and n."""
    if not isinstance(props, Mapping):
        raise InputValidationError(
            f"props must be a mapping of property name to array; got {type(props).__name__}"
        )
    allowed = set(PROPERTY_NAMES) | set(NUISANCE_NAMES) | set(EXTRA_NAMES)
    unknown = [k for k in props if k not in allowed]
    if unknown:
        raise UnknownNameError(
            f"unknown property {unknown[0]!r}; the physics constraints know: "
            f"{', '.join(PROPERTY_NAMES + EXTRA_NAMES)}"
        )
    torch_mode = is_torch(*props.values())
    out: dict = {}
    n = None
    for k, v in props.items():
        if k in NUISANCE_NAMES:
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


def violation_scores(props: Mapping) -> dict:
    """Per-constraint violation scores [dex, dimensionless], each of shape ``(n,)``.

    Parameters
    ----------
    props : mapping of str to array-like or torch.Tensor
        Property values in the units of :data:`acie.galaxy.properties.UNITS`; optional
        ``flux_r`` [nanomaggies] and ``luminosity_distance`` [Mpc]. Nuisances are ignored.

    Returns
    -------
    dict of str to ndarray or Tensor
        Only the constraints whose inputs are all present.

    Raises
    ------
    UnknownNameError
        A key is neither a property, a nuisance nor an extra input.
    ShapeError
        Arrays of different lengths or more than one dimension.
    InputValidationError
        No constraint can be evaluated from the given keys.
    """
    p, _ = _prepare(props)
    out = {
        name: _SCORES[name](p)
        for name, needs in CONSTRAINT_INPUTS.items()
        if all(k in p for k in needs)
    }
    if not out:
        raise InputValidationError(
            "no physics constraint can be evaluated: each needs one of these sets of inputs: "
            + "; ".join(f"{c}: {', '.join(v)}" for c, v in CONSTRAINT_INPUTS.items())
            + f"; got {sorted(props)}"
        )
    return out


def violation_score(props: Mapping):
    """Total violation per galaxy: the sum of :func:`violation_scores` [dex], 0 when physical."""
    scores = list(violation_scores(props).values())
    total = scores[0]
    for s in scores[1:]:
        total = total + s
    return total


def penalty(props: Mapping):
    """Differentiable training penalty: mean over galaxies of the summed squared scores.

    Returns a 0-d torch tensor (numpy inputs are converted to float64 tensors).
    """
    import torch

    if not is_torch(*props.values()):
        props = {
            k: torch.as_tensor(np.asarray(v, dtype=np.float64))
            for k, v in props.items()
            if k not in NUISANCE_NAMES
        }
    scores = violation_scores(props)
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
        Total violation per galaxy after projection [dex].
    initial_score : ndarray
        Total violation per galaxy before projection [dex].
    steps : int
        Projection steps taken.
    converged : bool
        Whether every galaxy ends at or below ``tolerance``.
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


# Properties the projection may move, and the log10 map that makes every move in dex.
_LOG_PARAMETRISED = {"sersic_n", "velocity_dispersion", "age"}


def _defaults(steps, tolerance):
    if steps is None or tolerance is None:
        from acie.config import get_settings

        s = get_settings()
        steps = s.PHYSICS_STEPS if steps is None else steps
        tolerance = s.PHYSICS_TOLERANCE if tolerance is None else tolerance
    if int(steps) < 0:
        raise InputValidationError(f"steps must be >= 0; got {steps!r}")
    if not tolerance >= 0:
        raise InputValidationError(f"tolerance must be >= 0; got {tolerance!r}")
    return int(steps), float(tolerance)


def project(
    props: Mapping,
    *,
    steps: int | None = None,
    tolerance: float | None = None,
    fixed: Iterable[str] = (),
    max_step_dex: float = 1.0,
) -> ProjectionResult:
    """Bounded projection of galaxies onto the physical manifold.

    Each step moves every violating galaxy by the minimum-norm step (in dex: log10 of
    masses, size, SFR, Sérsic index, velocity dispersion and age) that zeroes the
    linearised total violation, capped at ``max_step_dex``, until every score is at most
    ``tolerance`` or ``steps`` steps are spent. Galaxies already within tolerance are not
    touched. Extra inputs (flux, distance) are observations and never move.

    Parameters
    ----------
    props : mapping of str to array-like or torch.Tensor
    steps : int, optional
        Maximum number of steps (default ``PHYSICS_STEPS`` from :mod:`acie.config`).
    tolerance : float, optional
        Target violation score [dex] (default ``PHYSICS_TOLERANCE``).
    fixed : iterable of str
        Properties that must not move, e.g. the intervened nodes of a counterfactual.
    max_step_dex : float
        Largest move per step (Euclidean norm over the moved properties) [dex].
    """
    import torch

    steps, tolerance = _defaults(steps, tolerance)
    fixed = set(fixed)
    for f in fixed:
        if f not in PROPERTY_NAMES:
            raise UnknownNameError(
                f"unknown property {f!r} in fixed; properties are: {', '.join(PROPERTY_NAMES)}"
            )
    was_torch = is_torch(*props.values())
    p, n = _prepare(props)
    ref = next(iter(p.values()))
    dtype = torch.float64
    device = ref.device if was_torch else None
    tens = {
        k: (v.detach().to(dtype) if was_torch else torch.as_tensor(v, dtype=dtype))
        .expand(n)
        .clone()
        for k, v in p.items()
    }
    movable = tuple(k for k in PROPERTY_NAMES if k in tens and k not in fixed)
    # work in log10 for the linear quantities so that every coordinate is in dex
    free = {}
    for k in movable:
        v = tens[k]
        free[k] = torch.log10(v.clamp_min(1e-30)) if k in _LOG_PARAMETRISED else v.clone()

    def current(free_vals):
        out = dict(tens)
        for k, v in free_vals.items():
            out[k] = 10.0**v if k in _LOG_PARAMETRISED else v
        return out

    with torch.no_grad():
        initial = violation_score(current(free))
    score = initial
    taken = 0
    touched = torch.zeros(n, dtype=torch.bool, device=device)
    while taken < steps and movable:
        active = score > tolerance
        if not bool(active.any()):
            break
        with torch.enable_grad():  # callers may run under torch.no_grad()
            leaves = {k: v.detach().requires_grad_(True) for k, v in free.items()}
            total = violation_score(current(leaves))
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
            score = violation_score(current(free))
        taken += 1
    final = current(free)
    out: dict = {}
    for k, v in props.items():
        if k in movable:
            # galaxies never moved keep their exact input values (no log/exp round trip)
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


def fixed_for_counterfactual(intervened: Iterable[str]) -> tuple[str, ...]:
    """The nodes a counterfactual's projection must not move: the intervened nodes and
    every node that is not their descendant.

    In a counterfactual, abduction pins the non-descendants of the intervention to their
    factual values, so a physical repair may only move descendants. Pass the result as
    ``fixed`` to :func:`project` / :func:`enforce`.
    """
    from acie.galaxy.properties import descendants

    intervened = tuple(intervened)
    for f in intervened:
        if f not in PROPERTY_NAMES:
            raise UnknownNameError(
                f"unknown property {f!r}; properties are: {', '.join(PROPERTY_NAMES)}"
            )
    if not intervened:
        return PROPERTY_NAMES
    movable = set(descendants(intervened)) - set(intervened)
    return tuple(k for k in PROPERTY_NAMES if k not in movable)


def check(props: Mapping, *, tolerance: float | None = None) -> np.ndarray:
    """Return the total violation per galaxy, or refuse if any exceeds ``tolerance``.

    Raises
    ------
    PhysicsViolationError
        With ``score`` (the worst galaxy's total) and ``tolerance``; the message names the
        galaxy and the constraint that dominates its score.
    """
    _, tolerance = _defaults(0, tolerance)
    scores = violation_scores(props)
    as_np = {
        k: (v.detach().cpu().numpy() if is_torch(v) else np.asarray(v)) for k, v in scores.items()
    }
    total = sum(as_np.values())
    worst = int(np.argmax(total))
    if total[worst] > tolerance:
        name = max(as_np, key=lambda k: as_np[k][worst])
        n_bad = int((total > tolerance).sum())
        raise PhysicsViolationError(
            f"{n_bad} of {total.size} galaxies violate physics beyond tolerance {tolerance:g}: "
            f"galaxy {worst} has total score {total[worst]:.3g} dex, mostly {name} "
            f"({as_np[name][worst]:.3g} dex)",
            score=float(total[worst]),
            tolerance=tolerance,
        )
    return total


def enforce(
    props: Mapping,
    *,
    steps: int | None = None,
    tolerance: float | None = None,
    fixed: Iterable[str] = (),
) -> ProjectionResult:
    """Project onto the physical manifold, then refuse if the residual stays above tolerance.

    The PHYSICS_CHECK stage of a counterfactual: :func:`project` with ``fixed`` (typically
    the intervened nodes) followed by :func:`check` on the result.

    Raises
    ------
    PhysicsViolationError
        The projection could not bring every galaxy within ``tolerance`` in ``steps`` steps.
    """
    steps, tolerance = _defaults(steps, tolerance)
    result = project(props, steps=steps, tolerance=tolerance, fixed=fixed)
    if not result.converged:
        worst = int(np.argmax(result.score))
        raise PhysicsViolationError(
            f"counterfactual refused: after {result.steps} projection steps galaxy {worst} still "
            f"has violation score {result.score[worst]:.3g} dex > tolerance {tolerance:g} "
            f"(fixed: {', '.join(sorted(fixed)) or 'none'})",
            score=float(result.score[worst]),
            tolerance=tolerance,
        )
    return result
