"""Partial-R² sensitivity (Cinelli & Hazlett 2020) on their Darfur data, and on a linear SCM.

The Darfur survey ships in PySensemakr (``sensemakr/data/darfur.csv``); the published
values are from Cinelli & Hazlett, J. R. Stat. Soc. B 82, 39 (2020), §2 and Table 2 /
the sensemakr summary: estimate 0.0973, se 0.0232, t 4.18, dof 783, R²_{Y~D|X} 2.19 %,
RV_1 = 13.9 %, RV_{1,0.05} = 7.6 %; bound for 1× female: R²_{D~Z|X} 0.0092,
R²_{Y~Z|D,X} 0.1246, adjusted estimate 0.0752 (se 0.0219, t 3.44).
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from acie.causal.sensitivity import (
    adjusted_estimate,
    adjusted_se,
    benchmark_bounds,
    ols_sensitivity,
    partial_r2,
    robustness_value,
)
from acie.causal.sensitivity_plot import contour_grid, sensitivity_contour_figure
from acie.errors import EstimationError, InputValidationError

COVARIATES = ["age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur", "female"]


@pytest.fixture(scope="module")
def darfur():
    import sensemakr

    d = sensemakr.load_darfur()
    x = pd.concat(
        [d[COVARIATES], pd.get_dummies(d["village"], drop_first=True, dtype=float)], axis=1
    )
    return d, x


def test_darfur_published_values(darfur):
    d, x = darfur
    r = ols_sensitivity(
        d["peacefactor"],
        d["directlyharmed"],
        x,
        benchmarks={"female": COVARIATES.index("female")},
        kd=[1, 2, 3],
    )
    # published values are rounded (the se 0.02326 is printed 0.0232): tolerance one unit
    # of the last printed digit
    assert r.estimate == pytest.approx(0.0973, abs=1e-4)
    assert r.std_error == pytest.approx(0.0232, abs=1e-4)
    assert r.dof == 783
    assert r.partial_r2_yd_x == pytest.approx(0.0219, abs=1e-4)
    assert r.rv_q == pytest.approx(0.139, abs=1e-3)
    assert r.rv_q_alpha == pytest.approx(0.076, abs=1e-3)
    one = r.bounds[0]
    assert (one.covariate, one.kd) == ("female", 1)
    assert one.r2dz_x == pytest.approx(0.0092, abs=1e-4)
    assert one.r2yz_dx == pytest.approx(0.1246, abs=1e-4)
    assert one.adjusted_estimate == pytest.approx(0.0752, abs=1e-4)
    assert one.adjusted_se == pytest.approx(0.0219, abs=1e-4)
    assert one.adjusted_t == pytest.approx(3.4389, abs=1e-3)
    # three times female is enough to make the estimate insignificant (C&H §6.1)
    assert r.bounds[2].adjusted_ci_low < 0 < r.bounds[1].adjusted_ci_low


def test_statistics_match_pysensemakr():
    from sensemakr import bias_functions, sensitivity_bounds, sensitivity_statistics

    for t, dof, q, alpha in [(4.18445, 783, 1.0, 0.05), (2.5, 50, 0.5, 0.1), (40.0, 30, 1.0, 0.05)]:
        ref = sensitivity_statistics.robustness_value(t_statistic=t, dof=dof, q=q, alpha=alpha)
        assert robustness_value(t, dof, q, alpha) == pytest.approx(float(ref.iloc[0]), rel=1e-12)
        ref1 = sensitivity_statistics.robustness_value(t_statistic=t, dof=dof, q=q)
        assert robustness_value(t, dof, q) == pytest.approx(float(ref1.iloc[0]), rel=1e-12)
    # the benchmark example of sensemakr's docstring (female's t statistics in Darfur)
    r2yxj = float(partial_r2(-9.789, 783))
    r2dxj = float(partial_r2(-2.680, 783))
    ref = sensitivity_bounds.ovb_partial_r2_bound(r2dxj_x=r2dxj, r2yxj_dx=r2yxj, kd=[2], ky=[2])
    ours = benchmark_bounds(r2dxj, r2yxj, 2.0)
    assert ours[0] == pytest.approx(float(ref["r2dz_x"].iloc[0]), rel=1e-12)
    assert ours[1] == pytest.approx(float(ref["r2yz_dx"].iloc[0]), rel=1e-12)
    adj = bias_functions.adjusted_estimate(
        estimate=0.0973, se=0.0232, dof=783, r2dz_x=ours[0], r2yz_dx=ours[1]
    )
    assert adjusted_estimate(0.0973, 0.0232, 783, *ours) == pytest.approx(float(adj), rel=1e-12)


def test_closed_form_on_a_linear_scm_with_a_hidden_confounder():
    # Y = D + Z + 0.3 X + e, D = 0.6 Z + 0.5 X + u, Z hidden. For OLS the omitted-variable
    # formula is an identity: the short regression's estimate minus the bias computed from
    # Z's sample partial R² (R²_{D~Z|X}, R²_{Y~Z|D,X}) is the long regression's estimate.
    rng = np.random.default_rng(4)
    n = 4000
    z, x = rng.normal(size=n), rng.normal(size=n)
    d = 0.6 * z + 0.5 * x + rng.normal(size=n)
    y = 1.0 * d + 1.0 * z + 0.3 * x + rng.normal(size=n)
    short = ols_sensitivity(y, d, x)
    full = ols_sensitivity(y, d, np.column_stack([x, z]))
    assert full.estimate == pytest.approx(1.0, abs=0.05)  # the truth, within 3 se
    r2dz = float(partial_r2(ols_sensitivity(d, z, x).t_statistic, n - 3))
    r2yz = float(partial_r2(ols_sensitivity(y, z, np.column_stack([x, d])).t_statistic, n - 4))
    adj = adjusted_estimate(short.estimate, short.std_error, short.dof, r2dz, r2yz)
    assert adj == pytest.approx(full.estimate, rel=1e-9)
    assert 0 < short.rv_q_alpha < short.rv_q < 1


def test_contour_grid_and_figure(darfur):
    d, x = darfur
    r = ols_sensitivity(d["peacefactor"], d["directlyharmed"], x, benchmarks={"female": 5})
    _, _, adj = contour_grid(r, n=21)
    assert adj.shape == (21, 21)
    assert adj[0, 0] == pytest.approx(r.estimate)
    # along the diagonal the estimate reaches zero at R² = RV_1
    diag = np.linspace(0, 0.3, 3001)
    vals = adjusted_estimate(r.estimate, r.std_error, r.dof, diag, diag)
    assert diag[np.argmin(np.abs(vals))] == pytest.approx(r.rv_q, abs=1e-3)
    fig = sensitivity_contour_figure(r, treatment="directlyharmed")
    assert len(fig.axes) == 1


def test_bad_inputs():
    with pytest.raises(InputValidationError):
        robustness_value(2.0, 1)
    with pytest.raises(InputValidationError):
        benchmark_bounds(0.6, 0.1, kd=3)
    with pytest.raises(InputValidationError):
        adjusted_estimate(1.0, 0.1, 100, 1.0, 0.5)
    x = np.arange(20.0)
    with pytest.raises(EstimationError):
        ols_sensitivity(x, x, np.column_stack([x, 2 * x]))


def test_adjusted_interval_covers_the_truth_in_replications():
    # 200 seeded replications of Y = D + Z + 0.3 X + e, D = 0.6 Z + 0.5 X + u with Z hidden:
    # the short regression's interval almost never covers the true effect 1, the interval
    # adjusted with Z's partial R² (an oracle for its strength) covers it at about 95 %
    hits_short = hits_adj = 0
    reps = 200
    for seed in range(reps):
        rng = np.random.default_rng(1000 + seed)
        n = 300
        z, x = rng.normal(size=n), rng.normal(size=n)
        d = 0.6 * z + 0.5 * x + rng.normal(size=n)
        y = d + z + 0.3 * x + rng.normal(size=n)
        short = ols_sensitivity(y, d, x)
        r2dz = float(partial_r2(ols_sensitivity(d, z, x).t_statistic, n - 3))
        r2yz = float(partial_r2(ols_sensitivity(y, z, np.column_stack([x, d])).t_statistic, n - 4))
        est = adjusted_estimate(short.estimate, short.std_error, short.dof, r2dz, r2yz)
        se = adjusted_se(short.std_error, short.dof, r2dz, r2yz)
        crit = stats.t.ppf(0.975, short.dof - 1)
        hits_adj += abs(est - 1.0) <= crit * se
        hits_short += abs(short.estimate - 1.0) <= crit * short.std_error
    assert hits_adj / reps >= 0.90
    assert hits_short / reps < 0.05
