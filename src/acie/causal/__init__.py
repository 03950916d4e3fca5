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
    structure_search.py  ges_discover (CPDAG), fci_discover (PAG) with the same knowledge
    id_algorithm.py      ADMG, identify_effect: the ID algorithm (estimand as a formula)
    estimand.py          symbolic estimands and their evaluation on a joint table
    refute.py            refute_estimate: placebo, random common cause, subset, dummy
                         outcome, bootstrap, each with a pass/fail rule
    evalue.py            E-values (RR, OR, HR, standardized mean difference)
    sensitivity.py       partial R², robustness values, benchmark bounds (Cinelli–Hazlett)
    sensitivity_plot.py  contour plot of the bias-adjusted estimate
    causation_bounds.py  tian_pearl_bounds on PNS, PN, PS (closed form and LP)
    posterior_counterfactual.py  sample_counterfactual through non-invertible mechanisms
    reference_models.py  galaxy_scm: a halo -> galaxy SCM with closed-form answers

Heavy dependencies (statsmodels, scikit-learn, causal-learn) are imported inside the
functions that need them.
"""

from acie.causal.causation_bounds import CausationBounds, tian_pearl_bounds
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
from acie.causal.evalue import EValue, evalue_hr, evalue_or, evalue_rr, evalue_smd
from acie.causal.fitting import MechanismKind, fit_scm
from acie.causal.frontdoor import frontdoor_effect
from acie.causal.graph import CausalDAG
from acie.causal.id_algorithm import ADMG, identify_effect
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
from acie.causal.posterior_counterfactual import CounterfactualSamples, sample_counterfactual
from acie.causal.reference_models import galaxy_interventional_means, galaxy_scm
from acie.causal.refute import RefutationReport, Refuter, refute_estimate
from acie.causal.scm import StructuralCausalModel
from acie.causal.sensitivity import OLSSensitivity, ols_sensitivity, robustness_value
from acie.causal.structure_search import GESResult, PAGResult, fci_discover, ges_discover

__all__ = [
    "ADMG",
    "AdditiveNoiseMechanism",
    "CausalDAG",
    "CausationBounds",
    "ClassifierMechanism",
    "ConstantMechanism",
    "CounterfactualSamples",
    "DerivativeEstimate",
    "EValue",
    "EffectEstimate",
    "EffectMethod",
    "EmpiricalNoise",
    "Estimand",
    "FunctionalMechanism",
    "GESResult",
    "IndependenceTest",
    "LinearMechanism",
    "Mechanism",
    "MechanismKind",
    "MediationEffects",
    "OLSSensitivity",
    "PAGResult",
    "PCResult",
    "RefutationReport",
    "Refuter",
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
    "evalue_hr",
    "evalue_or",
    "evalue_rr",
    "evalue_smd",
    "fci_discover",
    "fit_scm",
    "frontdoor_effect",
    "galaxy_interventional_means",
    "galaxy_scm",
    "ges_discover",
    "identify_effect",
    "interventional_derivative",
    "ipw",
    "is_backdoor_set",
    "is_frontdoor_set",
    "iv_effect",
    "mediation_effects",
    "ols_sensitivity",
    "pc_discover",
    "refute_estimate",
    "regression_adjustment",
    "robustness_value",
    "sample_counterfactual",
    "tian_pearl_bounds",
]
