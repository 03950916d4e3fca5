"""acie.causal: structural causal models, ``do``, counterfactuals and effect estimation.

The public API::

    CausalDAG                      graph.py            DAG on networkx, surgery, d-separation
    Mechanism and subclasses       mechanisms.py       x = f(parents, noise), invertible or not
    StructuralCausalModel          scm.py              sampling, do, abduction, counterfactuals
    do                             intervention.py     handler / context manager / function
    galaxy_scm                     reference_models.py a halo -> galaxy SCM with known answers
"""

from acie.causal.graph import CausalDAG
from acie.causal.intervention import active_interventions, do
from acie.causal.mechanisms import (
    AdditiveNoiseMechanism,
    ClassifierMechanism,
    ConstantMechanism,
    EmpiricalNoise,
    FunctionalMechanism,
    LinearMechanism,
    Mechanism,
    RegressorMechanism,
    ShiftedMechanism,
)
from acie.causal.reference_models import galaxy_interventional_means, galaxy_scm
from acie.causal.scm import StructuralCausalModel

__all__ = [
    "AdditiveNoiseMechanism",
    "CausalDAG",
    "ClassifierMechanism",
    "ConstantMechanism",
    "EmpiricalNoise",
    "FunctionalMechanism",
    "LinearMechanism",
    "Mechanism",
    "RegressorMechanism",
    "ShiftedMechanism",
    "StructuralCausalModel",
    "active_interventions",
    "do",
    "galaxy_interventional_means",
    "galaxy_scm",
]
