"""Mixed-model fit time vs catalogue size: acie.analysis.fit_hierarchical_model against
statsmodels MixedLM called directly (same data, same REML model, same optimiser) in the
same process.

The wrapper parses the lme4-style formula, builds the design with patsy, and falls back
from CG to L-BFGS (then Powell) when CG does not report convergence; the peer is a
single ``MixedLM.from_formula(...).fit(method="cg")``, whose convergence flag is
printed: a ratio near 2 on random slopes is the price of the second optimiser where the
peer's CG stopped unconverged.

Run: ``python benchmarks/bench_analysis.py [--repeat 3]``
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _timing import best_of


def main() -> None:
    from statsmodels.regression.mixed_linear_model import MixedLM

    from acie.analysis import fit_hierarchical_model, random_surveys, simulate_survey_catalogue
    from acie.galaxy.simulator import GalaxySimulator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sim = GalaxySimulator(image_size=16, bands=("r",), seed=0)
    print(
        f"{'rows':>7} {'surveys':>7} {'model':<16} {'acie [s]':>9} {'statsmodels [s]':>15} "
        f"{'ratio':>6}  peer converged, |Δslope|"
    )
    for n_surveys, per in ((10, 100), (20, 250), (40, 500), (80, 500)):
        cat = simulate_survey_catalogue(
            sim, random_surveys(n_surveys, n_galaxies=per, slope_sd=0.05, seed=1), seed=2
        )
        cat["lm"], cat["ll"] = np.log(cat["mass"]), np.log(cat["luminosity"])
        for label, formula, re in (
            ("intercepts", "log(mass) ~ log(luminosity) + (1 | survey_id)", None),
            (
                "int. + slopes",
                "log(mass) ~ log(luminosity) + (1 + log(luminosity) | survey_id)",
                "1 + ll",
            ),
        ):

            def ours(formula=formula, cat=cat):
                return fit_hierarchical_model(formula, cat)

            def peer(re=re, cat=cat):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return MixedLM.from_formula(
                        "lm ~ ll", cat, re_formula=re, groups="survey_id"
                    ).fit(method="cg")

            a, b = best_of(ours, args.repeat), best_of(peer, args.repeat)
            r_ours, r_peer = ours(), peer()
            diff = abs(r_ours.fixed_effects["estimate"].iloc[1] - r_peer.fe_params.iloc[1])
            print(
                f"{len(cat):>7} {n_surveys:>7} {label:<16} {a:>9.3f} {b:>15.3f} "
                f"{a / b:>6.2f}  {r_peer.converged!s:>5}, {diff:.1e}"
            )


if __name__ == "__main__":
    main()
