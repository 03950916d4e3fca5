"""What would these galaxies look like if their stellar mass were doubled?

Runs the shipped deep SCM on four simulated galaxies, compares with the simulator's
exact counterfactual, and writes a factual / model / truth grid (PNG and PDF).

    python examples/deepscm_double_stellar_mass.py [OUT_DIR]   # default: out/
"""

import sys
from pathlib import Path

import numpy as np

from acie.deepscm import load_default_model
from acie.deepscm.reporting import plot_pairs
from acie.galaxy.simulator import GalaxySimulator

out = Path(sys.argv[1] if len(sys.argv) > 1 else "out")
engine = load_default_model()
sim = GalaxySimulator()  # 64 x 64, bands g, r, i, nanomaggies per pixel
galaxies = sim.sample(4, seed=2024)

# the model sees only the images: it abducts the properties itself
result = engine.counterfactual(
    galaxies.images, {"log_stellar_mass": galaxies.properties["log_stellar_mass"] + np.log10(2.0)}
)
truth = sim.counterfactual(
    galaxies, {"log_stellar_mass": galaxies.properties["log_stellar_mass"] + np.log10(2.0)}
)

for k in ("log_stellar_mass", "log_luminosity", "log_size", "velocity_dispersion"):
    print(
        f"{k:20s} factual {np.round(result.factual_properties[k], 2)}  "
        f"model cf {np.round(result.counterfactual_properties[k], 2)}  "
        f"true cf {np.round(truth.properties[k], 2)}"
    )
print(
    "violation score [dex]",
    np.round(result.violation_score, 3),
    "confidence",
    np.round(result.confidence, 2),
)
print("watermark detected:", engine.watermark.detect(result.images))
print("model version", result.model_version[:16], f"latency {result.latency_ms:.0f} ms")
plot_pairs(
    out / "deepscm_double_stellar_mass",
    galaxies.images,
    result.images,
    title="do(M* -> 2 M*), model",
)
plot_pairs(
    out / "deepscm_double_stellar_mass_truth",
    galaxies.images,
    truth.images,
    title="do(M* -> 2 M*), simulator truth",
)
