"""Benchmark of acie's refutations and sensitivity analyses against DoWhy, in one process.

1. Refutations: the same confounded data (binary treatment, true ATE 0.5), the five
   refuters with the same number of simulations: ``acie.causal.refute.refute_estimate``
   (AIPW) and DoWhy's ``CausalModel.refute_estimate`` (backdoor linear regression).
   Prints each refuter's new effect and time for both, and the time ratio.
2. Partial-R² sensitivity on Cinelli & Hazlett's Darfur data (PySensemakr ships it):
   ``acie.causal.sensitivity.ols_sensitivity`` against DoWhy's
   ``add_unobserved_common_cause`` with ``simulation_method="linear-partial-R2"`` and
   against PySensemakr's statistics; values and times.
3. E-values: ``acie.causal.evalue`` against DoWhy's ``EValueSensitivityAnalyzer``
   conversions on the published example (RR 3.9, CI 1.8–8.7).

Run: ``python benchmarks/bench_causal_sensitivity.py [--rows 2000] [--simulations 20]``
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
import pandas as pd
from _timing import best_of

REFUTERS = {
    "placebo_treatment": "placebo_treatment_refuter",
    "random_common_cause": "random_common_cause",
    "data_subset": "data_subset_refuter",
    "dummy_outcome": "dummy_outcome_refuter",
    "bootstrap": "bootstrap_refuter",
}


def confounded(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(int)
    y = 0.5 * t + x + rng.normal(size=n)
    return pd.DataFrame({"x": x, "t": t.astype(bool), "y": y})


def bench_refuters(n: int, sims: int) -> None:
    from dowhy import CausalModel

    from acie.causal.refute import refute_estimate

    df = confounded(n)
    ours_df = df.assign(t=df["t"].astype(float))
    print(f"1. refutations, n = {n}, {sims} simulations each (true ATE 0.5)")
    print(f"   {'refuter':<22}{'acie new':>10}{'pass':>6}{'DoWhy new':>11}{'acie s':>9}"
          f"{'DoWhy s':>9}{'ratio':>8}")  # fmt: skip
    model = CausalModel(data=df, treatment="t", outcome="y", common_causes=["x"])
    estimand = model.identify_effect(proceed_when_unidentifiable=True)
    est = model.estimate_effect(estimand, method_name="backdoor.linear_regression")
    ours0 = refute_estimate(ours_df, treatment="t", outcome="y", covariates=["x"], refuters=[])
    print(f"   original estimate: acie AIPW {ours0.estimate.estimate:.4f}, "
          f"DoWhy linear regression {est.value:.4f}")  # fmt: skip
    for name, dowhy_name in REFUTERS.items():
        t0 = time.perf_counter()
        ours = refute_estimate(
            ours_df, treatment="t", outcome="y", covariates=["x"],
            refuters=[name], n_simulations=sims, seed=1,
        ).refutations[0]  # fmt: skip
        t_ours = time.perf_counter() - t0
        kwargs = {"num_simulations": sims, "random_seed": 1}
        if name == "placebo_treatment":
            kwargs["placebo_type"] = "permute"
        t0 = time.perf_counter()
        theirs = model.refute_estimate(estimand, est, method_name=dowhy_name, **kwargs)
        t_theirs = time.perf_counter() - t0
        new = theirs[0].new_effect if isinstance(theirs, list) else theirs.new_effect
        new = float(np.mean(new))
        print(f"   {name:<22}{ours.new_estimate:>10.4f}{'yes' if ours.passed else 'NO':>6}"
              f"{new:>11.4f}{t_ours:>9.3f}{t_theirs:>9.3f}{t_theirs / t_ours:>7.1f}x")  # fmt: skip


def bench_partial_r2() -> None:
    import sensemakr
    from dowhy import CausalModel
    from sensemakr import sensitivity_statistics

    from acie.causal.sensitivity import ols_sensitivity

    d = sensemakr.load_darfur()
    cov = ["age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur", "female"]
    dummies = pd.get_dummies(d["village"], prefix="v", drop_first=True, dtype=float)
    x = pd.concat([d[cov], dummies], axis=1)
    y, t = d["peacefactor"].to_numpy(float), d["directlyharmed"].to_numpy(float)

    def ours():
        return ols_sensitivity(y, t, x, benchmarks={"female": cov.index("female")}, kd=[1, 2, 3])

    r = ours()
    t_ours = best_of(ours, 5)
    frame = pd.concat([d[["peacefactor", "directlyharmed"]], x], axis=1)
    frame.columns = [str(c).replace(" ", "_").replace("-", "_") for c in frame.columns]
    common = [c for c in frame.columns if c not in ("peacefactor", "directlyharmed")]
    model = CausalModel(data=frame, treatment="directlyharmed", outcome="peacefactor",
                        common_causes=common)  # fmt: skip
    estimand = model.identify_effect(proceed_when_unidentifiable=True)
    est = model.estimate_effect(estimand, method_name="backdoor.linear_regression")

    def theirs():
        return model.refute_estimate(
            estimand, est, method_name="add_unobserved_common_cause",
            simulation_method="linear-partial-R2", benchmark_common_causes=["female"],
            effect_fraction_on_treatment=[1, 2, 3], plot_estimate=False,
        )  # fmt: skip

    ref = theirs()
    t_theirs = best_of(theirs, 2)
    rv_sm = float(
        sensitivity_statistics.robustness_value(t_statistic=r.t_statistic, dof=r.dof).iloc[0]
    )
    print("\n2. partial-R² sensitivity, Darfur (published: 0.0973, RV 0.139, RV_a 0.076)")
    print(f"   acie : estimate {r.estimate:.4f}, RV {r.rv_q:.4f}, RV_a {r.rv_q_alpha:.4f}, "
          f"1x female adjusted {r.bounds[0].adjusted_estimate:.4f}   {t_ours * 1e3:.1f} ms")  # fmt: skip
    print(f"   DoWhy: estimate {est.value:.4f}, RV {ref.stats['robustness_value']:.4f}, "
          f"RV_a {ref.stats['robustness_value_alpha']:.4f}   {t_theirs * 1e3:.1f} ms "
          f"({t_theirs / t_ours:.1f}x acie)")  # fmt: skip
    print(f"   PySensemakr robustness_value(t, dof): {rv_sm:.4f}")


def bench_evalue() -> None:
    from dowhy.causal_refuters.evalue_sensitivity_analyzer import EValueSensitivityAnalyzer

    from acie.causal.evalue import evalue_or, evalue_rr

    an = EValueSensitivityAnalyzer.__new__(EValueSensitivityAnalyzer)
    ours = evalue_rr(3.9, 1.8, 8.7)
    theirs = an._evalue_RR(3.9, 1.8, 8.7)
    t_ours = best_of(lambda: evalue_or(1.8, 1.2, 2.6, rare=False), 200)
    t_theirs = best_of(lambda: an._evalue_OR(1.8, 1.2, 2.6, rare=False), 200)
    print("\n3. E-values, RR 3.9 (1.8, 8.7) (published: 7.26, 3.0)")
    print(f"   acie {ours.point:.4f} {ours.ci:.4f}; DoWhy {theirs['evalue_estimate']:.4f} "
          f"{theirs['evalue_lower_ci']:.4f}; OR conversion {t_ours * 1e6:.1f} µs vs "
          f"{t_theirs * 1e6:.1f} µs")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--simulations", type=int, default=20)
    args = ap.parse_args()
    logging.getLogger("dowhy").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    bench_refuters(args.rows, args.simulations)
    bench_partial_r2()
    bench_evalue()


if __name__ == "__main__":
    main()
