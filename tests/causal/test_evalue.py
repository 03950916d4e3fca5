"""E-values against VanderWeele & Ding (2017) and DoWhy's implementation."""

import math

import pytest

from acie.causal.evalue import evalue_hr, evalue_or, evalue_rr, evalue_smd, evalue_value
from acie.errors import InputValidationError


def test_breastfeeding_example_of_vanderweele_ding_2017():
    # VanderWeele & Ding, Ann. Intern. Med. 167, 268 (2017), worked example: RR 3.9
    # (95 % CI 1.8 to 8.7) -> E-value 7.26 for the estimate and 3.0 for the lower limit
    # (the paper prints 7.26 and 3.0: 3.9 + √(3.9·2.9) = 7.263 and 1.8 + √(1.8·0.8) = 3.0)
    ev = evalue_rr(3.9, 1.8, 8.7)
    assert ev.point == pytest.approx(7.26, abs=0.005)
    assert ev.ci == pytest.approx(3.0, abs=0.02)


def test_closed_form_and_protective_effects():
    assert evalue_value(2.0) == pytest.approx(2 + math.sqrt(2), rel=1e-12)  # 3.41 in the paper
    # a protective RR is inverted; the CI E-value uses the upper limit
    ev = evalue_rr(0.5, 0.3, 0.8)
    assert ev.point == pytest.approx(evalue_value(2.0), rel=1e-12)
    assert ev.ci == pytest.approx(evalue_value(1 / 0.8), rel=1e-12)
    # an interval covering the null gives 1
    assert evalue_rr(1.3, 0.9, 1.9).ci == 1.0
    # a non-null target: moving RR 3.9 to 2 needs an E-value of 3.9/2
    assert evalue_rr(3.9, true=2.0).point == pytest.approx(evalue_value(3.9 / 2), rel=1e-12)


def test_conversions_match_dowhy():
    from dowhy.causal_refuters.evalue_sensitivity_analyzer import EValueSensitivityAnalyzer

    # DoWhy's converters need no fitted estimate: call them on a bare instance
    an = EValueSensitivityAnalyzer.__new__(EValueSensitivityAnalyzer)
    cases = [
        (evalue_or(1.8, 1.2, 2.6, rare=False), an._evalue_OR(1.8, 1.2, 2.6, rare=False)),
        (evalue_or(1.8, 1.2, 2.6, rare=True), an._evalue_OR(1.8, 1.2, 2.6, rare=True)),
        (evalue_smd(0.5, 0.1), an._evalue_MD(0.5, 0.1)),
        (evalue_rr(0.7, 0.55, 0.9), an._evalue_RR(0.7, 0.55, 0.9)),
    ]
    for ours, theirs in cases:
        assert ours.point == pytest.approx(theirs["evalue_estimate"], rel=1e-9)
        ci = theirs["evalue_lower_ci"] or theirs["evalue_upper_ci"]
        assert ours.ci == pytest.approx(ci, rel=1e-9)


def test_common_outcome_odds_ratio_uses_square_root():
    ev = evalue_or(4.0, rare=False)
    assert ev.estimate_rr == pytest.approx(2.0)
    assert ev.point == pytest.approx(evalue_value(2.0))
    assert evalue_hr(4.0, rare=True).point == pytest.approx(evalue_value(4.0))
    hr = evalue_hr(2.0, rare=False).estimate_rr
    assert hr == pytest.approx((1 - 0.5 ** math.sqrt(2)) / (1 - 0.5 ** math.sqrt(0.5)))


@pytest.mark.parametrize(
    "call",
    [
        lambda: evalue_rr(-1.0),
        lambda: evalue_rr(2.0, 2.5, 3.0),
        lambda: evalue_rr(2.0, 1.0, 1.5),
        lambda: evalue_or(float("nan"), rare=True),
        lambda: evalue_smd(0.2, -0.1),
    ],
)
def test_bad_input_is_refused(call):
    with pytest.raises(InputValidationError):
        call()
