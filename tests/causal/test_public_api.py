"""The public surface of acie.causal is pinned."""

import acie.causal


def test_exported_members():
    assert sorted(acie.causal.__all__) == sorted(
        [
            "AdditiveNoiseMechanism",
            "CausalDAG",
            "ClassifierMechanism",
            "ConstantMechanism",
            "DerivativeEstimate",
            "EffectEstimate",
            "EffectMethod",
            "Estimand",
            "MediationEffects",
            "UnreliableEstimateWarning",
            "frontdoor_effect",
            "is_frontdoor_set",
            "iv_effect",
            "mediation_effects",
            "EmpiricalNoise",
            "FunctionalMechanism",
            "IndependenceTest",
            "LinearMechanism",
            "Mechanism",
            "MechanismKind",
            "PCResult",
            "RegressorMechanism",
            "ShiftedMechanism",
            "StructuralCausalModel",
            "TreatmentKind",
            "active_interventions",
            "aipw",
            "backdoor_adjustment_set",
            "do",
            "dose_response_derivative",
            "estimate_effect",
            "fit_scm",
            "galaxy_interventional_means",
            "galaxy_scm",
            "interventional_derivative",
            "ipw",
            "is_backdoor_set",
            "pc_discover",
            "regression_adjustment",
        ]
    )
    for name in acie.causal.__all__:
        assert getattr(acie.causal, name) is not None
