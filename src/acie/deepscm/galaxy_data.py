"""The graph the deep SCM learns over galaxies, and its training data from the simulator.

The learned SCM has one node per property of :mod:`acie.galaxy.properties`, with the
same parents, plus three image nuisances as extra root nodes
(:data:`MODELLED_NUISANCES`: axis ratio, PSF FWHM, redshift). The nuisances are
observed when training and abducted from the image when serving; they cannot be
intervened on through the engine. The position angle and the pixel noise are left to
the latent code and the abducted pixel noise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MODELLED_NUISANCES", "POSITIVE", "model_parents", "simulate_training_set"]

#: Image nuisances modelled as observed root nodes.
MODELLED_NUISANCES: tuple[str, ...] = ("axis_ratio", "psf_fwhm", "redshift")

#: Linear (not log10) nodes that are positive amounts: modelled in log10 internally.
POSITIVE: tuple[str, ...] = ("age", "sersic_n", "velocity_dispersion", *MODELLED_NUISANCES)


def model_parents() -> dict[str, list[str]]:
    """Parent lists of the learned SCM: the simulator's property DAG plus nuisance roots."""
    from acie.galaxy.properties import PARENTS, PROPERTY_NAMES

    parents = {k: list(PARENTS[k]) for k in PROPERTY_NAMES}
    parents.update({k: [] for k in MODELLED_NUISANCES})
    return parents


def simulate_training_set(
    n: int,
    *,
    seed: int,
    image_size: int = 64,
    bands: tuple[str, ...] = ("g", "r", "i"),
    chunk: int = 500,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, object]]:
    """Simulate ``n`` galaxies: images (n, C, H, W) [nanomaggies / pixel], values, simulator config.

    Chunks are seeded ``seed + k`` (k = chunk index), so the set is reproducible.
    """
    from tqdm.auto import tqdm

    from acie.galaxy.simulator import GalaxySimulator

    sim = GalaxySimulator(image_size=image_size, bands=tuple(bands), seed=seed)
    images, values = [], []
    with tqdm(total=n, desc="simulating", unit="gal", disable=not progress) as bar:
        for k, start in enumerate(range(0, n, chunk)):
            b = sim.sample(min(chunk, n - start), seed=seed + k)
            images.append(b.images)
            values.append({**b.properties, **{m: b.nuisances[m] for m in MODELLED_NUISANCES}})
            bar.update(len(b))
    vals = {key: np.concatenate([v[key] for v in values]) for key in values[0]}
    return np.concatenate(images), vals, sim.config()
