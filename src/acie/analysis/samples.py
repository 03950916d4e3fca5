"""Named catalogue samples: seeded draws of the causal galaxy simulator, seen by a survey.

A sample is a recipe, not a file: ``load_sample("cluster_sim_a")`` draws the sample's
galaxies from :class:`~acie.galaxy.simulator.GalaxySimulator` (default configuration:
64 x 64 stamps in g, r, i, the shipped model's) with the sample's seed, and observes
them as its survey does: a stellar-mass estimate off by a survey-wide calibration
offset and scattered per galaxy, the observation model of :mod:`acie.analysis.surveys`::

    log10 mass = log10 M_* + offset + tilt (log10 L - 10) + noise e

The same name gives the same rows on every machine, and the galaxies keep their
exogenous noise (:func:`sample_population`), so exact counterfactuals of any row can be
drawn (:mod:`acie.analysis.sensitivity`, ``ACIEr::counterfactual``).

The ``cluster_sim`` series (``cluster_sim_a`` … ``cluster_sim_f``) is six such surveys
of one population model for the galaxy-scaling analyses of the ACIEr walkthrough
(``docs/r.md``): the same physics, different seeds and calibrations, so that a mixed
model of ``log(mass) ~ log(luminosity) + (1 | survey_id)`` has a universal relation
(the fixed effects) and a survey-to-survey spread (the variance component).

Columns of a sample (units in ``frame.attrs["units"]``, astropy spelling):
``sample``, ``galaxy_id`` (row of the sample's population), ``survey_id``,
``dm_mass`` [solMass] (halo mass M_200c), ``mass`` [solMass] (the survey's stellar-mass
estimate), ``luminosity`` [solLum] (r band), ``flux`` [nmgy] (noise-free r-band model
flux), ``redshift``, then the simulator's true property nodes
(:data:`acie.galaxy.properties.PROPERTY_NAMES`, in :data:`~acie.galaxy.properties.UNITS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from acie.analysis.surveys import SurveySpec
from acie.errors import InputValidationError, UnknownNameError

if TYPE_CHECKING:
    from acie.galaxy.batch import GalaxyBatch
    from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "SAMPLES",
    "SampleSpec",
    "check_sample_rows",
    "list_samples",
    "load_sample",
    "sample_images",
    "sample_population",
]

_PIVOT_LOG_L = 10.0


@dataclass(frozen=True)
class SampleSpec:
    """The recipe of a named sample.

    Attributes
    ----------
    name : str
    description : str
    seed : int
        Seed of the simulator draw; the survey's measurement noise uses ``seed + 1``.
    survey : SurveySpec
        Size and systematics (its ``name`` is the ``survey_id`` of every row).
    simulator : dict
        Keyword arguments of :class:`~acie.galaxy.simulator.GalaxySimulator` (empty: its
        defaults, the configuration the shipped deep SCM was trained on).
    """

    name: str
    description: str
    seed: int
    survey: SurveySpec
    simulator: dict[str, Any] = field(default_factory=dict)


def _cluster_sim(letter: str, seed: int, offset: float, noise: float) -> SampleSpec:
    return SampleSpec(
        name=f"cluster_sim_{letter}",
        description=(
            f"300 simulated galaxies (simulator seed {seed}) seen by survey "
            f"cluster_sim_{letter}: stellar-mass offset {offset:+.2f} dex, scatter {noise} dex"
        ),
        seed=seed,
        survey=SurveySpec(
            name=f"cluster_sim_{letter}",
            n_galaxies=300,
            mass_offset_dex=offset,
            mass_noise_dex=noise,
        ),
    )


#: The registered samples, by name. Offsets are fixed numbers (not drawn) so that the
#: recipe reads at a glance; they average to zero, so a random-intercept fit's fixed
#: effects estimate the population relation.
SAMPLES: dict[str, SampleSpec] = {
    s.name: s
    for s in (
        _cluster_sim("a", 101, +0.12, 0.08),
        _cluster_sim("b", 102, -0.09, 0.10),
        _cluster_sim("c", 103, +0.04, 0.12),
        _cluster_sim("d", 104, -0.15, 0.06),
        _cluster_sim("e", 105, +0.07, 0.15),
        _cluster_sim("f", 106, +0.01, 0.09),
    )
}


def _spec(name: str) -> SampleSpec:
    if not isinstance(name, str) or name not in SAMPLES:
        raise UnknownNameError(
            f"unknown sample {name!r}; the samples are: {', '.join(SAMPLES)} (list_samples())"
        )
    return SAMPLES[name]


def list_samples() -> pd.DataFrame:
    """The registered samples: ``name``, ``n_galaxies``, ``description``, one row each."""
    return pd.DataFrame(
        {
            "name": [s.name for s in SAMPLES.values()],
            "n_galaxies": [s.survey.n_galaxies for s in SAMPLES.values()],
            "description": [s.description for s in SAMPLES.values()],
        }
    )


def sample_population(name: str) -> tuple[GalaxySimulator, GalaxyBatch]:
    """The simulator and the galaxies (with their exogenous noise) of sample ``name``.

    Row ``i`` of :func:`load_sample` is galaxy ``i`` of the batch. Drawn without images
    (``render=False``); ``simulator.counterfactual(batch[ids], {})`` renders them.

    Raises
    ------
    UnknownNameError
        No sample has that name.
    """
    from acie.galaxy.simulator import GalaxySimulator

    spec = _spec(name)
    simulator = GalaxySimulator(**spec.simulator)
    return simulator, simulator.sample(spec.survey.n_galaxies, seed=spec.seed, render=False)


def load_sample(name: str) -> pd.DataFrame:
    """The catalogue of sample ``name`` (columns in the module docstring).

    Parameters
    ----------
    name : str
        A registered sample (:func:`list_samples`), e.g. ``"cluster_sim_a"``.

    Returns
    -------
    pandas.DataFrame
        One row per galaxy; ``frame.attrs["units"]`` maps each column to its unit and
        ``frame.attrs["sample"]`` holds the recipe (name, seed, survey, simulator).

    Raises
    ------
    UnknownNameError
        No sample has that name.
    """
    from dataclasses import asdict

    from acie.galaxy.properties import PROPERTY_NAMES, UNITS

    spec = _spec(name)
    simulator, batch = sample_population(name)
    n = len(batch)
    survey = spec.survey
    rng = np.random.default_rng(spec.seed + 1)
    props = batch.properties
    log_l = props["log_luminosity"] + survey.luminosity_noise_dex * rng.standard_normal(n)
    log_m = (
        props["log_stellar_mass"]
        + survey.mass_offset_dex
        + survey.slope_offset * (props["log_luminosity"] - _PIVOT_LOG_L)
        + survey.mass_noise_dex * rng.standard_normal(n)
    )
    columns: dict[str, tuple[Any, str]] = {
        "sample": (np.full(n, spec.name, dtype=object), ""),
        "galaxy_id": (np.arange(n, dtype=np.int64), ""),
        "survey_id": (np.full(n, survey.name, dtype=object), ""),
        "dm_mass": (10.0 ** props["log_halo_mass"], "solMass"),
        "mass": (10.0**log_m, "solMass"),
        "luminosity": (10.0**log_l, "solLum"),
        "flux": (batch.flux[:, batch.bands.index("r")], "nmgy"),
        "redshift": (np.asarray(batch.nuisances["redshift"], dtype=float), ""),
    }
    for p in PROPERTY_NAMES:
        columns[p] = (np.asarray(props[p], dtype=float), UNITS[p])
    frame = pd.DataFrame({k: v for k, (v, _) in columns.items()})
    frame.attrs["units"] = {k: unit for k, (_, unit) in columns.items()}
    frame.attrs["sample"] = {
        "name": spec.name,
        "seed": spec.seed,
        "survey": asdict(survey),
        "simulator": simulator.config(),
    }
    return frame


def check_sample_rows(data: Any) -> tuple[str, np.ndarray]:
    """The one sample and the galaxy ids that the rows of ``data`` come from.

    ``data`` is a frame with ``sample`` and ``galaxy_id`` columns (as :func:`load_sample`
    returns, possibly subset); used by :mod:`acie.analysis.sensitivity`.

    Raises
    ------
    InputValidationError
        Missing columns, rows of several samples, ids outside the sample, no rows.
    UnknownNameError
        The rows name an unknown sample.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(
            f"data must be a sample's rows (a DataFrame from load_sample); got "
            f"{type(data).__name__}"
        )
    missing = [c for c in ("sample", "galaxy_id") if c not in data.columns]
    if missing:
        raise InputValidationError(
            f"data must have the columns 'sample' and 'galaxy_id' of load_sample() (they "
            f"name the simulated galaxies whose counterfactuals are drawn); missing: {missing}"
        )
    if len(data) == 0:
        raise InputValidationError("data has no rows; expected the rows of a sample")
    names = pd.unique(data["sample"].astype(str))
    if names.size != 1:
        raise InputValidationError(
            f"data must hold the rows of one sample; got rows of {names.size}: "
            f"{', '.join(map(str, names))}"
        )
    spec = _spec(str(names[0]))
    ids = np.asarray(data["galaxy_id"], dtype=float)
    n = spec.survey.n_galaxies
    if not (np.all(np.isfinite(ids)) and np.all(ids == np.round(ids))):
        raise InputValidationError("galaxy_id must hold whole numbers (row ids of the sample)")
    ids_int = ids.astype(np.int64)
    if ids_int.min() < 0 or ids_int.max() >= n:
        raise InputValidationError(
            f"galaxy_id must lie in 0..{n - 1} for sample {spec.name!r}; got "
            f"{ids_int.min()}..{ids_int.max()}"
        )
    return spec.name, ids_int


def sample_images(data: Any) -> np.ndarray:
    """The rendered images of the rows of ``data`` (one sample's ``sample``/``galaxy_id``).

    Returns
    -------
    ndarray, shape (n, n_bands, H, W), float32 [nanomaggies / pixel]
        The simulator's images with their pixel noise (the input the shipped deep SCM
        was trained on: 64 x 64 in g, r, i).
    """
    name, ids = check_sample_rows(data)
    simulator, population = sample_population(name)
    return simulator.counterfactual(population[ids], {}, render=True).images
