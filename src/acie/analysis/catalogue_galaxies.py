"""The galaxies behind an explorer catalogue: their simulator, nuisances and images.

Every catalogue of :mod:`acie.analysis.embedding_catalogues` is a seeded draw of the
causal galaxy simulator, so a galaxy's image need not be stored: it is re-rendered from
the catalogue's recipe (the draw's seed gives each galaxy its properties, nuisances and
pixel-noise seed). :func:`render_galaxies` of ``(catalogue, ids)`` returns the same
pixels on every call and every machine, and with the catalogue's own simulator they are
exactly the images ``GalaxySimulator.sample(n, seed=…, render=True)`` would have drawn.

Rendering may use another camera than the catalogue's simulator (``render``: stamp size,
bands, pixel scale, sky noise, gain — the configuration a deep SCM was trained on); the
galaxies' properties and nuisances do not depend on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from acie.errors import InputValidationError, NotFoundError, expected_got

__all__ = [
    "RENDER_KEYS",
    "CataloguePopulation",
    "catalogue_population",
    "check_ids",
    "model_camera",
    "render_galaxies",
]

#: simulator arguments that change how a galaxy is imaged but not the galaxy itself
RENDER_KEYS = ("image_size", "bands", "pixel_scale", "sky_sigma", "gain")


@dataclass(frozen=True)
class CataloguePopulation:
    """The simulator configuration, properties and nuisances of one catalogue's galaxies.

    Attributes
    ----------
    name : str
    simulator : dict
        Keyword arguments of :class:`~acie.galaxy.simulator.GalaxySimulator`.
    seed : int
        Seed of the draw.
    properties : dict of str to ndarray (n,), float64
        Property nodes in :data:`acie.galaxy.properties.UNITS`.
    nuisances : dict of str to ndarray (n,)
        Axis ratio, position angle [rad], PSF FWHM [arcsec], redshift, noise seed.
    """

    name: str
    simulator: dict[str, Any]
    seed: int
    properties: dict[str, np.ndarray]
    nuisances: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(np.asarray(self.nuisances["redshift"]).shape[0])


@lru_cache(maxsize=2)
def catalogue_population(name: str) -> CataloguePopulation:
    """The galaxies of catalogue ``name`` (a sample or ``sim_<n>``), drawn once per process.

    Raises
    ------
    UnknownNameError
        Not a catalogue (:func:`acie.analysis.embedding_catalogues.load_embedding_catalogue`).
    """
    from acie.analysis.embedding_catalogues import sim_size
    from acie.analysis.samples import SAMPLES, sample_population
    from acie.galaxy.simulator import GalaxySimulator

    if name in SAMPLES:
        simulator, batch = sample_population(name)
        seed = SAMPLES[name].seed
    else:
        n = sim_size(name)  # raises UnknownNameError
        simulator, seed = GalaxySimulator(), 0
        batch = simulator.sample(n, seed=seed, render=False)
    return CataloguePopulation(
        name=name,
        simulator=simulator.config(),
        seed=seed,
        properties={k: np.asarray(v, dtype=np.float64) for k, v in batch.properties.items()},
        nuisances={k: np.asarray(v) for k, v in batch.nuisances.items()},
    )


def check_ids(ids: object, n: int, *, catalogue: str) -> np.ndarray:
    """``ids`` as int64 row ids of a catalogue of ``n`` galaxies.

    Raises
    ------
    InputValidationError
        Not whole numbers, or not a 1-D sequence.
    NotFoundError
        An id outside ``0 … n-1``.
    """
    a = np.asarray(ids)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise InputValidationError(
            expected_got("galaxy ids", "a 1-D sequence of whole numbers", f"{a.ndim}-D {a.dtype}")
        )
    a = a.astype(np.int64)
    bad = a[(a < 0) | (a >= n)]
    if bad.size:
        raise NotFoundError(
            f"catalogue {catalogue!r} has galaxies 0 … {n - 1}; got id {int(bad[0])}"
            + (f" and {bad.size - 1} more outside" if bad.size > 1 else "")
        )
    return a


def _camera(population: CataloguePopulation, render: Mapping[str, Any] | None):
    extra = dict(render or {})
    unknown = sorted(set(extra) - set(RENDER_KEYS))
    if unknown:
        raise InputValidationError(
            expected_got("render settings", f"keys among {list(RENDER_KEYS)}", unknown)
        )
    config = {**population.simulator, **extra}
    config["bands"] = list(config["bands"])
    return _simulator(json.dumps(config, sort_keys=True, default=float))


@lru_cache(maxsize=8)
def _simulator(config_json: str):
    """One simulator per configuration: its distance table is built once, not per call."""
    from acie.galaxy.simulator import GalaxySimulator

    config = json.loads(config_json)
    for key in ("bands", "log_halo_mass_range", "redshift_range", "psf_fwhm_range"):
        config[key] = tuple(config[key])
    return GalaxySimulator(**config)


def render_galaxies(
    catalogue: str, ids: Sequence[int] | np.ndarray, *, render: Mapping[str, Any] | None = None
) -> np.ndarray:
    """Images ``(len(ids), C, H, W)`` float32 [nanomaggies / pixel] of catalogue galaxies.

    Parameters
    ----------
    catalogue : str
        A sample name or ``sim_<n>``.
    ids : sequence of int
        Row ids, ``0 … n-1``.
    render : mapping, optional
        Overrides of the camera (:data:`RENDER_KEYS`), e.g. a model's training simulator.

    Raises
    ------
    UnknownNameError, NotFoundError, InputValidationError
        Unknown catalogue, ids outside it, bad render settings.
    """
    population = catalogue_population(catalogue)
    rows = check_ids(ids, len(population), catalogue=catalogue)
    camera = _camera(population, render)
    props = {k: v[rows] for k, v in population.properties.items()}
    nuis = {k: np.asarray(v)[rows] for k, v in population.nuisances.items()}
    if rows.size == 0:
        return np.empty((0, len(camera.bands), camera.image_size, camera.image_size), np.float32)
    return camera.render(props, nuis)


def model_camera(metadata: Mapping[str, Any], image_shape: Sequence[int]) -> dict[str, Any]:
    """The render settings that give a deep SCM the images it was trained on.

    Parameters
    ----------
    metadata : mapping
        The checkpoint's metadata; its ``simulator`` entry (the training simulator's
        configuration) is used when present.
    image_shape : (C, H, W)
        The images the model takes; without a ``simulator`` entry, ``H``-pixel stamps in
        the first ``C`` of the bands g, r, i (the simulator's order).

    Raises
    ------
    ShapeError
        The settings do not give ``(C, H, W)`` images (the model cannot take them).
    """
    from acie.errors import ShapeError

    c, h, w = (int(v) for v in image_shape)
    trained = metadata.get("simulator") if isinstance(metadata, Mapping) else None
    if isinstance(trained, Mapping):
        camera = {k: trained[k] for k in RENDER_KEYS if k in trained}
    else:
        camera = {"image_size": h, "bands": ("g", "r", "i")[:c]}
    size = int(camera.get("image_size", 64))
    bands = tuple(camera.get("bands", ("g", "r", "i")))
    if (len(bands), size, size) != (c, h, w):
        raise ShapeError(
            expected_got(
                "the served model's image shape",
                f"({len(bands)}, {size}, {size}), what the galaxy simulator renders with "
                f"bands {bands} and {size}-pixel stamps",
                (c, h, w),
            )
        )
    camera["bands"] = bands
    return camera
