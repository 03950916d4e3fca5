"""Probabilities of causation: Tian–Pearl bounds, the LP, and posterior-sampled counterfactuals."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from acie.causal import LinearMechanism, StructuralCausalModel
from acie.causal.causation_bounds import lp_bounds, tian_pearl_bounds
from acie.causal.mechanisms import ClassifierMechanism, FunctionalMechanism
from acie.causal.posterior_counterfactual import sample_counterfactual
from acie.errors import EstimationError, InputValidationError, NotInvertibleError

RESPONSE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])  # Y_0, Y_1 of never/helped/hurt/always


def _data_of(q):
    """Joint P(x, y) and P(y_x) implied by a distribution q[x, response type]."""
    joint = np.array(
        [[sum(q[x, r] for r in range(4) if RESPONSE[r, x] == y) for y in (0, 1)] for x in (0, 1)]
    )
    return joint, q[:, 1].sum() + q[:, 3].sum(), q[:, 2].sum() + q[:, 3].sum()


def test_pearl_legal_responsibility_example():
    # Pearl, Causality (2nd ed., 2009), §9.3.4, and Tian & Pearl (2000), §4.2: experimental
    # deaths 16/1000 (drug) and 14/1000 (placebo); non-experimental 2/1000 deaths among
    # 1000 who chose the drug and 28/1000 among 1000 who did not. The published result:
    # PN = 1 exactly (lower bound 1.00), the drug "was in all probability" the cause.
    joint = np.array([[972, 28], [998, 2]]) / 2000
    tp = tian_pearl_bounds(p_y_do_x1=0.016, p_y_do_x0=0.014, joint=joint)
    assert tp.pn.lower == pytest.approx(1.0, abs=1e-12)
    assert tp.pn.upper == 1.0
    # experimental data alone: PNS in [P(y_x) − P(y_x'), P(y_x)] = [0.002, 0.016]
    exp = tian_pearl_bounds(p_y_do_x1=0.016, p_y_do_x0=0.014)
    assert (exp.pns.lower, exp.pns.upper) == pytest.approx((0.002, 0.016), abs=1e-15)
    assert exp.pn is None


def test_closed_forms_equal_the_linear_program_and_contain_the_truth():
    rng = np.random.default_rng(0)
    for _ in range(100):
        q = rng.dirichlet(np.full(8, 0.7)).reshape(2, 4)
        joint, a, b = _data_of(q)
        tp = tian_pearl_bounds(p_y_do_x1=a, p_y_do_x0=b, joint=joint)
        lp = lp_bounds(p_y_do_x1=a, p_y_do_x0=b, joint=joint)
        for name in ("pns", "pn", "ps"):
            t, p = getattr(tp, name), getattr(lp, name)
            assert (t.lower, t.upper) == pytest.approx((p.lower, p.upper), abs=1e-8)
        assert q[:, 1].sum() in tp.pns
        assert q[1, 1] / joint[1, 1] in tp.pn
        assert q[0, 1] / joint[0, 0] in tp.ps


def test_monotone_model_identifies_pns():
    # no "hurt" units (monotonicity): PNS = P(y_x) − P(y_x') (Tian & Pearl, Thm 5);
    # with observational data the bounds of PN meet when X is also exogenous
    q = np.array([[0.3, 0.1, 0.0, 0.1], [0.2, 0.2, 0.0, 0.1]])
    joint, a, b = _data_of(q)
    tp = tian_pearl_bounds(p_y_do_x1=a, p_y_do_x0=b, joint=joint)
    assert tp.pns.lower == pytest.approx(a - b)
    obs_only = lp_bounds(joint=joint)
    assert obs_only.pns.lower == 0.0
    assert obs_only.pns.upper == pytest.approx(joint[1, 1] + joint[0, 0])


def test_inconsistent_data_are_refused():
    joint = np.array([[0.25, 0.25], [0.0, 0.5]])  # P(X=1, Y=1) = 0.5 > P(y_x) = 0.3
    with pytest.raises(InputValidationError, match="P\\(x,y\\)"):
        tian_pearl_bounds(p_y_do_x1=0.3, p_y_do_x0=0.5, joint=joint)
    with pytest.raises(EstimationError, match="inconsistent"):
        lp_bounds(p_y_do_x1=0.3, p_y_do_x0=0.5, joint=joint)
    with pytest.raises(InputValidationError):
        tian_pearl_bounds(p_y_do_x1=1.2, p_y_do_x0=0.5)


def _binary_scm():
    # X = 1[u_x < 0.5], Y = 1[u_y < 0.2 + 0.6 X]: monotone, X exogenous. Closed form:
    # P(Y_0 = 1 | X=1, Y=1) = P(u_y < 0.2 | u_y < 0.8) = 0.25, so PN = 0.75;
    # P(Y_1 = 1 | X=0, Y=0) = P(u_y < 0.8 | u_y ≥ 0.2) = 0.75 = PS.
    return StructuralCausalModel(
        mechanisms={
            "x": FunctionalMechanism(function=lambda p, u: (u < 0.5).astype(float)),
            "y": FunctionalMechanism(
                parents=("x",), function=lambda p, u: (u < 0.2 + 0.6 * p["x"]).astype(float)
            ),
        },
        noise={"x": stats.uniform(), "y": stats.uniform()},
    )


def test_posterior_sampling_matches_closed_form_and_keeps_the_index():
    scm = _binary_scm()
    with pytest.raises(NotInvertibleError):
        scm.counterfactual(pd.DataFrame({"x": [1.0], "y": [1.0]}), {"x": 0.0})
    units = pd.DataFrame({"x": [1.0, 0.0, 1.0], "y": [1.0, 0.0, 0.0]}, index=[10, 11, 12])
    n = 20_000
    cf = sample_counterfactual(scm, units, {"x": 0.0}, n_samples=n, seed=1)
    p = cf.probability("y", 1.0)
    assert list(p.index) == [10, 11, 12]
    se = np.sqrt(0.25 * 0.75 / n)
    assert abs(p[10] - 0.25) < 4 * se  # P(Y_0 = 1 | X=1, Y=1)
    assert p[11] == 0.0  # x = 0 already: the factual
    assert p[12] == 0.0  # y = 0 at x = 1 means u_y ≥ 0.8: y stays 0 at x = 0
    cf1 = sample_counterfactual(scm, units.loc[[11]], {"x": 1.0}, n_samples=n, seed=2)
    assert abs(cf1.probability("y", 1.0).iloc[0] - 0.75) < 4 * se  # PS
    # the sampled PN lies within the Tian–Pearl bounds computed from the model's data
    joint = np.array([[0.5 * 0.8, 0.5 * 0.2], [0.5 * 0.2, 0.5 * 0.8]])
    tp = tian_pearl_bounds(p_y_do_x1=0.8, p_y_do_x0=0.2, joint=joint)
    assert 1 - p[10] in tp.pn or abs(1 - p[10] - tp.pn.lower) < 4 * se


def test_classifier_node_and_continuous_refusal():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    z = rng.normal(size=400)
    t = (rng.uniform(size=400) < 1 / (1 + np.exp(-2 * z))).astype(float)
    clf = LogisticRegression().fit(z[:, None], t)
    scm = StructuralCausalModel(
        mechanisms={
            "z": LinearMechanism(),
            "t": ClassifierMechanism(parents=("z",), classifier=clf),
            "w": LinearMechanism(coefficients={"t": 2.0, "z": 1.0}),
        },
        noise={"z": stats.norm(), "t": stats.uniform(), "w": stats.norm()},
    )
    unit = pd.DataFrame({"z": [0.3], "t": [1.0], "w": [2.5]})
    # soft intervention on z: t must be re-drawn from its noise posterior
    cf = sample_counterfactual(scm, unit, {"z": lambda v: v + 3.0}, n_samples=4000, seed=0)
    p1 = float(clf.predict_proba([[0.3]])[0, 1])
    p1_new = float(clf.predict_proba([[3.3]])[0, 1])
    # u ~ U(0, 1) with class 1 when u ≥ P(t=0): posterior u ∈ [1 − p1, 1), and t stays 1
    # at the shifted z because P(t=0 | z+3) < P(t=0 | z) (the classifier is increasing)
    assert p1_new > p1
    assert cf.probability("t", 1.0).iloc[0] == 1.0
    # w is additive: its noise (2.5 − 2 − 0.3 = 0.2) is abducted exactly
    assert cf.mean()["w"].iloc[0] == pytest.approx(2.0 + 3.3 + 0.2, abs=1e-9)
    cont = StructuralCausalModel(
        mechanisms={
            "a": LinearMechanism(),
            "b": FunctionalMechanism(parents=("a",), function=lambda p, u: p["a"] + u**3),
        },
        noise={"a": stats.norm(), "b": stats.norm()},
    )
    with pytest.raises(NotInvertibleError, match="prior draws"):
        sample_counterfactual(
            cont, pd.DataFrame({"a": [0.0], "b": [0.7]}), {"a": 1.0}, max_draws=5000
        )
