"""Physics constraints for galaxies (conservation, virial equilibrium) and N-body forces.

See :mod:`acie.physics.constraints` for the violation scores, penalty, projection and
refusal used on every counterfactual; :mod:`acie.physics.halo`, :mod:`acie.physics.virial`,
:mod:`acie.physics.conservation` for the building blocks and :mod:`acie.physics.nbody` for
direct-summation gravity. Torch is imported only by the functions that need it.
"""

from acie.physics.constraints import (
    ProjectionResult,
    check,
    enforce,
    fixed_for_counterfactual,
    penalty,
    project,
    violation_score,
    violation_scores,
)

__all__ = [
    "ProjectionResult",
    "check",
    "enforce",
    "fixed_for_counterfactual",
    "penalty",
    "project",
    "violation_score",
    "violation_scores",
]
