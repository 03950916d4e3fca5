"""The physics constraints on galaxy properties, and the functions bound to them.

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

The table is :data:`GALAXY_CONSTRAINTS`, a :class:`acie.physics.constraints.ConstraintSet`
built from the building blocks of :mod:`acie.physics.virial` and
:mod:`acie.physics.conservation`. The functions below are those of
:mod:`acie.physics.constraints` and :mod:`acie.physics.projection` bound to it, plus :func:`fixed_for_counterfactual`, the
causal rule for what a counterfactual's repair may move. They accept a mapping of names
to numpy arrays *or* torch tensors of shape ``(n,)`` (or scalars) in the units of
:data:`acie.galaxy.properties.UNITS` and answer in kind; image nuisances are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from acie.errors import UnknownNameError
from acie.galaxy.properties import (
    AGE_OF_UNIVERSE_GYR,
    NUISANCE_NAMES,
    PROPERTY_NAMES,
    descendants,
)
from acie.physics import constraints as _generic
from acie.physics import projection as _projection
from acie.physics._backend import namespace
from acie.physics.conservation import baryon_excess, luminosity_from_flux, mass_to_light_excess
from acie.physics.constraints import (
    DEFAULT_STEPS,
    DEFAULT_TOLERANCE,
    Constraint,
    ConstraintSet,
)
from acie.physics.projection import ProjectionResult
from acie.physics.virial import virial_residual

__all__ = [
    "CONSTRAINT_INPUTS",
    "EXTRA_NAMES",
    "FLUX_DISTANCE_ROUNDING_DEX",
    "GALAXY_CONSTRAINTS",
    "R_BAND_ABS_MAG_SUN",
    "VIRIAL_BAND_DEX",
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

#: Extra (non-property) inputs the constraints understand: observations, never moved.
EXTRA_NAMES: tuple[str, ...] = ("flux_r", "luminosity_distance")


def _baryon(p):
    return baryon_excess(p["log_halo_mass"], p["log_stellar_mass"], p["log_gas_mass"])


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


def _mass_to_light(p):
    return mass_to_light_excess(p["log_stellar_mass"], p["log_luminosity"])


def _age(p):
    xp = namespace(p["age"])
    age = p["age"]
    return (xp.relu(age - AGE_OF_UNIVERSE_GYR) + xp.relu(-age)) / AGE_OF_UNIVERSE_GYR


def _flux(p):
    xp = namespace(*p.values())
    logl = luminosity_from_flux(p["flux_r"], p["luminosity_distance"], R_BAND_ABS_MAG_SUN)
    return xp.relu(xp.abs(logl - p["log_luminosity"]) - FLUX_DISTANCE_ROUNDING_DEX)


#: The galaxy constraints (module docstring), their variables' roles and the properties
#: a projection moves in log10 (Sérsic index, velocity dispersion and age are linear).
GALAXY_CONSTRAINTS = ConstraintSet(
    constraints=(
        Constraint(
            "baryon_fraction", ("log_halo_mass", "log_stellar_mass", "log_gas_mass"), _baryon
        ),
        Constraint(
            "virial",
            (
                "log_halo_mass",
                "log_stellar_mass",
                "log_gas_mass",
                "log_size",
                "sersic_n",
                "velocity_dispersion",
            ),
            _virial,
        ),
        Constraint("mass_to_light", ("log_stellar_mass", "log_luminosity"), _mass_to_light),
        Constraint("stellar_age", ("age",), _age),
        Constraint("flux_distance", ("log_luminosity", *EXTRA_NAMES), _flux),
    ),
    properties=PROPERTY_NAMES,
    observations=EXTRA_NAMES,
    ignored=NUISANCE_NAMES,
    log_parametrised=frozenset({"sersic_n", "velocity_dispersion", "age"}),
    noun="galaxy",
)

#: Inputs of each constraint.
CONSTRAINT_INPUTS: dict[str, tuple[str, ...]] = GALAXY_CONSTRAINTS.inputs


def violation_scores(props: Mapping) -> dict:
    """Per-constraint violation scores of galaxies [dex], each of shape ``(n,)``.

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
    return _generic.violation_scores(props, GALAXY_CONSTRAINTS)


def violation_score(props: Mapping):
    """Total violation per galaxy: the sum of :func:`violation_scores` [dex], 0 when physical."""
    return _generic.violation_score(props, GALAXY_CONSTRAINTS)


def penalty(props: Mapping):
    """Differentiable training penalty: mean over galaxies of the summed squared scores.

    Returns a 0-d torch tensor (numpy inputs are converted to float64 tensors).
    """
    return _generic.penalty(props, GALAXY_CONSTRAINTS)


def project(
    props: Mapping,
    *,
    steps: int = DEFAULT_STEPS,
    tolerance: float = DEFAULT_TOLERANCE,
    fixed: Iterable[str] = (),
    max_step_dex: float = 1.0,
) -> ProjectionResult:
    """Bounded projection of galaxies onto the physical manifold.

    :func:`acie.physics.projection.project` on :data:`GALAXY_CONSTRAINTS`: every move is
    in dex (log10 of masses, size, SFR, Sérsic index, velocity dispersion and age);
    flux and distance never move.

    Parameters
    ----------
    props : mapping of str to array-like or torch.Tensor
    steps : int
        Maximum number of steps (default 50, the ``PHYSICS_STEPS`` setting's default).
    tolerance : float
        Target violation score [dex] (default 0.05, the ``PHYSICS_TOLERANCE`` default).
    fixed : iterable of str
        Properties that must not move, e.g. :func:`fixed_for_counterfactual`.
    max_step_dex : float
        Largest move per step (Euclidean norm over the moved properties) [dex].
    """
    return _projection.project(
        props,
        GALAXY_CONSTRAINTS,
        steps=steps,
        tolerance=tolerance,
        fixed=fixed,
        max_step_dex=max_step_dex,
    )


def check(props: Mapping, *, tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray:
    """Total violation per galaxy [dex], or refuse if any exceeds ``tolerance`` (default 0.05).

    Raises
    ------
    PhysicsViolationError
        With ``score`` (the worst galaxy's total) and ``tolerance``; the message names the
        galaxy and the constraint that dominates its score.
    """
    return _generic.check(props, GALAXY_CONSTRAINTS, tolerance=tolerance)


def enforce(
    props: Mapping,
    *,
    steps: int = DEFAULT_STEPS,
    tolerance: float = DEFAULT_TOLERANCE,
    fixed: Iterable[str] = (),
) -> ProjectionResult:
    """Project galaxies onto the physical manifold, then refuse above ``tolerance``.

    The PHYSICS_CHECK stage of a counterfactual (defaults 50 steps, tolerance 0.05 dex).

    Raises
    ------
    PhysicsViolationError
        The projection could not bring every galaxy within ``tolerance`` in ``steps`` steps.
    """
    return _projection.enforce(
        props, GALAXY_CONSTRAINTS, steps=steps, tolerance=tolerance, fixed=fixed
    )


def fixed_for_counterfactual(intervened: Iterable[str]) -> tuple[str, ...]:
    """The nodes a counterfactual's projection must not move.

    These are the intervened nodes and every node that is not their descendant.

    In a counterfactual, abduction pins the non-descendants of the intervention to their
    factual values, so a physical repair may only move descendants. Pass the result as
    ``fixed`` to :func:`project` / :func:`enforce`.

    Raises
    ------
    UnknownNameError
        A name is not a galaxy property.
    """
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
