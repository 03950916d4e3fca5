"""Physics checks on counterfactual galaxies: score, project, or refuse.

1. do(sigma) off the virial relation: the projection may move only the descendants of
   the intervention; sigma is a leaf, so with it fixed nothing can move and the
   counterfactual is refused — unless the caller allows the sizes to move as well.
2. do(M*) beyond the baryons of the halo: with the causal rule (non-descendants fixed)
   the halo may not grow, so the counterfactual is refused with a typed error; a purely
   geometric projection (only M* fixed) would instead raise the halo mass.

Run: ``python examples/galaxy_physics.py``
"""

from __future__ import annotations

import numpy as np

from acie.errors import PhysicsViolationError
from acie.galaxy.constraints import enforce, fixed_for_counterfactual, violation_scores
from acie.galaxy.simulator import GalaxySimulator


def main() -> None:
    sim = GalaxySimulator(seed=0)
    batch = sim.sample(5, seed=3, render=False)

    # 1. a velocity dispersion 0.25 dex above virial equilibrium (0.5 dex in sigma^2)
    sigma = batch.properties["velocity_dispersion"] * 10**0.25
    cf = sim.counterfactual(batch, {"velocity_dispersion": sigma}, render=False)
    print("virial score [dex]:", np.round(violation_scores(cf.physics_inputs())["virial"], 3))
    print("fixed by the causal rule:", fixed_for_counterfactual(["velocity_dispersion"]))
    try:
        enforce(cf.properties, fixed=fixed_for_counterfactual(["velocity_dispersion"]))
    except PhysicsViolationError as exc:
        print("refused:", exc)
    res = enforce(cf.properties, fixed=["velocity_dispersion", "log_halo_mass"])
    print(
        f"letting the other properties move: converged in {res.steps} steps, "
        f"log R_e {np.round(cf.properties['log_size'], 2)} -> "
        f"{np.round(res.properties['log_size'], 2)}"
    )

    # 2. do(M* = 10^11.8 M_sun): more stars than some haloes have baryons for
    cf = sim.counterfactual(batch, {"log_stellar_mass": 11.8}, render=False)
    print(
        "log M_h:",
        np.round(cf.properties["log_halo_mass"], 2),
        " baryon score [dex]:",
        np.round(violation_scores(cf.physics_inputs())["baryon_fraction"], 3),
    )
    try:
        enforce(cf.properties, fixed=fixed_for_counterfactual(["log_stellar_mass"]))
    except PhysicsViolationError as exc:
        print(f"refused (score={exc.score:.3f} dex, tolerance={exc.tolerance}):", exc)
    geometric = enforce(cf.properties, fixed=["log_stellar_mass"])
    print(
        "geometric projection would move the halo to log M_h =",
        np.round(geometric.properties["log_halo_mass"], 2),
    )


if __name__ == "__main__":
    main()
