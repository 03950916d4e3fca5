"""Physics constraints for galaxies (conservation, virial equilibrium) and N-body forces.

See :mod:`acie.physics.constraints` for the violation scores, penalty, projection and
refusal used on every counterfactual.
"""

from acie.physics.constraints import (
    ProjectionResult,
    check,
    enforce,
    penalty,
    project,
    violation_score,
    violation_scores,
)

__all__ = [
    "ProjectionResult",
    "check",
    "enforce",
    "penalty",
    "project",
    "violation_score",
    "violation_scores",
]
