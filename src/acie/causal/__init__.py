"""acie.causal: structural causal models and the causal questions asked of them.

``do``, counterfactuals, identification, effect estimation, dose–response derivatives
and discovery.

The public API, by module::

    graph.py             CausalDAG: a DAG on networkx; surgery (do), d-separation
    mechanisms.py        x = f(parents, noise): linear, additive-noise, functional,
                         fitted regressor/classifier; invertible or not
    scm.py               StructuralCausalModel: vectorised sampling, do, abduction,
                         unit counterfactuals (abduction-action-prediction)
    intervention.py      do: function, method and context manager (effect handler)
    fitting.py           fit_scm: mechanisms fitted from data given a DAG
    identification.py    backdoor_adjustment_set, is_backdoor_set, is_frontdoor_set
    effect_estimate.py   EffectEstimate, TreatmentKind, Estimand: what the estimators return
    estimators.py        regression_adjustment, aipw, estimate_effect (ATE, ATT, ATC)
    ipw.py               ipw: Hájek weights (binary), entropy balancing (continuous)
    weighting.py         balancing weights and weight diagnostics (ESS, max share)
    iv.py                iv_effect: Wald and 2SLS with the first-stage F
    frontdoor.py         frontdoor_effect: front-door adjustment
    mediation.py         mediation_effects: natural direct and indirect effects
    dose_response.py     interventional_derivative (SCM), dose_response_derivative (data)
    discovery.py         pc_discover: causal-learn's PC with background knowledge
    reference_models.py  galaxy_scm: a halo -> galaxy SCM with closed-form answers

Heavy dependencies (statsmodels, scikit-learn, causal-learn) are imported inside the
functions that need them.
"""

from acie.causal.discovery import IndependenceTest, PCResult, pc_discover
from acie.causal.dose_response import (
    DerivativeEstimate,
    dose_response_derivative,
    interventional_derivative,
)
from acie.causal.effect_estimate import (
    EffectEstimate,
    Estimand,
    TreatmentKind,
    UnreliableEstimateWarning,
)
from acie.causal.estimators import (
    EffectMethod,
    aipw,
    estimate_effect,
    regression_adjustment,
)
from acie.causal.fitting import MechanismKind, fit_scm
from acie.causal.frontdoor import frontdoor_effect
from acie.causal.graph import CausalDAG
from acie.causal.identification import (
    backdoor_adjustment_set,
    is_backdoor_set,
    is_frontdoor_set,
)
from acie.causal.intervention import active_interventions, do
from acie.causal.ipw import ipw
from acie.causal.iv import iv_effect
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
from acie.causal.mediation import MediationEffects, mediation_effects
from acie.causal.reference_models import galaxy_interventional_means, galaxy_scm
from acie.causal.scm import StructuralCausalModel

__all__ = [
    "AdditiveNoiseMechanism",
    "CausalDAG",
    "ClassifierMechanism",
    "ConstantMechanism",
    "DerivativeEstimate",
    "EffectEstimate",
    "EffectMethod",
    "EmpiricalNoise",
    "Estimand",
    "FunctionalMechanism",
    "IndependenceTest",
    "LinearMechanism",
    "Mechanism",
    "MechanismKind",
    "MediationEffects",
    "PCResult",
    "RegressorMechanism",
    "ShiftedMechanism",
    "StructuralCausalModel",
    "TreatmentKind",
    "UnreliableEstimateWarning",
    "active_interventions",
    "aipw",
    "backdoor_adjustment_set",
    "do",
    "dose_response_derivative",
    "estimate_effect",
    "fit_scm",
    "frontdoor_effect",
    "galaxy_interventional_means",
    "galaxy_scm",
    "interventional_derivative",
    "ipw",
    "is_backdoor_set",
    "is_frontdoor_set",
    "iv_effect",
    "mediation_effects",
    "pc_discover",
    "regression_adjustment",
]
