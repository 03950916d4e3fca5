"""Physics constraints (conservation, virial equilibrium), NFW haloes and N-body forces.

:mod:`acie.physics.constraints` scores, penalises and refuses against any
:class:`~acie.physics.constraints.ConstraintSet`, :mod:`acie.physics.projection` projects
onto its physical set; the galaxy table and the functions
bound to it, used on every counterfactual, are in :mod:`acie.galaxy.constraints`.
:mod:`acie.physics.nfw` (NFW dark-matter haloes), :mod:`acie.physics.virial` and
:mod:`acie.physics.conservation` are the building blocks, :mod:`acie.physics.nbody`
direct-summation gravity. Torch is imported only by the functions that need it.
"""

from acie.physics.constraints import (
    DEFAULT_STEPS,
    DEFAULT_TOLERANCE,
    Constraint,
    ConstraintSet,
    check,
    penalty,
    violation_score,
    violation_scores,
)
from acie.physics.projection import ProjectionResult, enforce, project

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
