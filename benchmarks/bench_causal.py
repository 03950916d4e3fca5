"""Benchmark of acie.causal.

1. Vectorised sampling: a 10-node SCM, 10^6 rows, observational and interventional.
2. Unit counterfactuals (abduction-action-prediction) for 10,000 rows against DoWhy's
   gcm (``dowhy.gcm.counterfactual_samples`` on an ``InvertibleStructuralCausalModel``)
   with the same mechanisms (fixed linear coefficients, Gaussian additive noise), in
   the same process: prints both times, their ratio, and the largest difference of
   the counterfactual values (they must agree to round-off).
3. The issue-21 estimators (IV, front door, mediation, IPW ATT/ATC) against DoWhy's,
   values and times side by side (``_causal_estimators.py``).

Run: ``python benchmarks/bench_causal.py [--rows 10000] [--repeat 3]``
"""

from __future__ import annotations

import argparse

import networkx as nx
import numpy as np
from _timing import best_of
from scipy import stats

from acie.causal import LinearMechanism, StructuralCausalModel

N_NODES = 10


def chain_coefficients(seed: int = 0) -> dict[str, dict[str, float]]:
    """Each node x_i depends on up to three predecessors, with fixed random weights."""
    rng = np.random.default_rng(seed)
    coefs: dict[str, dict[str, float]] = {}
    for i in range(N_NODES):
        parents = [f"x{j}" for j in range(max(0, i - 3), i)]
        coefs[f"x{i}"] = {p: float(rng.uniform(-1, 1)) for p in parents}
    return coefs


def acie_model(coefs: dict[str, dict[str, float]]) -> StructuralCausalModel:
    return StructuralCausalModel(
        mechanisms={n: LinearMechanism(coefficients=c, intercept=0.5) for n, c in coefs.items()},
        noise={n: stats.norm(0.0, 1.0) for n in coefs},
    )


def dowhy_model(coefs: dict[str, dict[str, float]]):
    from dowhy import gcm
    from dowhy.gcm.causal_models import PARENTS_DURING_FIT
    from dowhy.graph import get_ordered_predecessors

    graph = nx.DiGraph()
    graph.add_nodes_from(coefs)
    graph.add_edges_from((p, n) for n, c in coefs.items() for p in c)
    scm = gcm.InvertibleStructuralCausalModel(graph)
    for node, c in coefs.items():
        noise = gcm.ScipyDistribution(stats.norm, loc=0.0, scale=1.0)
        if not c:
            scm.set_causal_mechanism(node, gcm.ScipyDistribution(stats.norm, loc=0.5, scale=1.0))
            continue
        # gcm feeds the parents in its own (sorted) order: match the coefficients to it
        ordered = get_ordered_predecessors(graph, node)
        reg = gcm.ml.create_linear_regressor_with_given_parameters(
            np.array([c[p] for p in ordered]), intercept=0.5
        )
        scm.set_causal_mechanism(
            node, gcm.AdditiveNoiseModel(prediction_model=reg, noise_model=noise)
        )
    # the mechanisms have fixed parameters, so there is nothing to fit: record the
    # parents as gcm.fit would
    for node in coefs:
        scm.graph.nodes[node][PARENTS_DURING_FIT] = get_ordered_predecessors(graph, node)
    return scm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows for counterfactuals")
    parser.add_argument("--sample-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()

    coefs = chain_coefficients()
    model = acie_model(coefs)

    # 1. vectorised sampling
    t_obs = best_of(lambda: model.sample(args.sample_rows, seed=0), args.repeat)
    intervened = model.do({"x4": 1.0})
    t_int = best_of(lambda: intervened.sample(args.sample_rows, seed=0), args.repeat)
    print(
        f"sampling, {N_NODES} nodes x {args.sample_rows:,} rows: observational {t_obs:.3f} s, "
        f"interventional do(x4=1) {t_int:.3f} s"
    )

    # 2. unit counterfactuals against DoWhy gcm
    from dowhy import gcm

    gcm.config.disable_progress_bars()
    observed = model.sample(args.rows, seed=1)
    target, value = "x3", 2.0
    ours = model.counterfactual(observed, {target: value})
    dscm = dowhy_model(coefs)
    theirs = gcm.counterfactual_samples(dscm, {target: lambda x: value}, observed_data=observed)
    diff = float(np.max(np.abs(ours[list(coefs)].to_numpy() - theirs[list(coefs)].to_numpy())))
    t_ours = best_of(lambda: model.counterfactual(observed, {target: value}), args.repeat)
    t_theirs = best_of(
        lambda: gcm.counterfactual_samples(dscm, {target: lambda x: value}, observed_data=observed),
        args.repeat,
    )
    print(f"unit counterfactuals do({target}={value}), {args.rows:,} rows x {N_NODES} nodes:")
    print(f"  acie.causal          {t_ours * 1e3:9.2f} ms")
    print(f"  dowhy.gcm {__import__('dowhy').__version__:<10} {t_theirs * 1e3:9.2f} ms")
    print(f"  ratio dowhy/acie     {t_theirs / t_ours:9.2f}x")
    print(f"  max |difference|     {diff:9.2e}  (values agree: {diff < 1e-9})")
    if not diff < 1e-9:
        raise SystemExit("counterfactual values disagree with DoWhy gcm")

    # 3. the issue-21 estimators against DoWhy
    from _causal_estimators import estimators_section

    estimators_section(args.repeat)


if __name__ == "__main__":
    main()
