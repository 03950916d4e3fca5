"""The catalogues the explorer maps: galaxy ids, embedding vectors and property columns.

Two kinds of catalogue, both drawn from the causal galaxy simulator, so the same name
gives the same rows on every machine:

- a named sample of :mod:`acie.analysis.samples` (``cluster_sim_a`` …), its rows with
  the survey's observed columns (``mass``, ``luminosity``, ``flux``, ``redshift``) and
  the true property nodes;
- ``sim_<n>`` (``3 <= n <= 1,000,000``): ``n`` galaxies of the simulator's default
  population (seed 0), drawn without images — the large catalogues the explorer's
  scale targets are measured on (``sim_100000``).

The embedding of a galaxy is the vector of its causal property nodes
(:data:`acie.galaxy.properties.PROPERTY_NAMES`), the latent variables the deep SCM
conditions its images on. Ids are the galaxy's row (``galaxy_id``), uint32.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from acie.errors import UnknownNameError

__all__ = [
    "MAX_SIM_GALAXIES",
    "EmbeddingCatalogue",
    "catalogue_names",
    "load_embedding_catalogue",
    "sim_size",
]

MAX_SIM_GALAXIES = 1_000_000
_SIM = re.compile(r"^sim_([0-9]{1,7})$")


@dataclass(frozen=True)
class EmbeddingCatalogue:
    """One catalogue: ids (n,) uint32, embeddings (n, d) float32, properties name -> (n,)."""

    name: str
    ids: np.ndarray
    embeddings: np.ndarray
    embedding_columns: tuple[str, ...]
    properties: dict[str, np.ndarray]
    units: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def catalogue_names() -> list[str]:
    """The named catalogues (the samples); ``sim_<n>`` is accepted besides them."""
    from acie.analysis.samples import SAMPLES

    return list(SAMPLES)


def _from_sample(name: str) -> EmbeddingCatalogue:
    from acie.analysis.samples import load_sample
    from acie.galaxy.properties import PROPERTY_NAMES

    frame = load_sample(name)
    numeric = [c for c in frame.columns if c != "galaxy_id" and frame[c].dtype.kind == "f"]
    return EmbeddingCatalogue(
        name=name,
        ids=frame["galaxy_id"].to_numpy().astype(np.uint32),
        embeddings=frame[list(PROPERTY_NAMES)].to_numpy(dtype=np.float32),
        embedding_columns=tuple(PROPERTY_NAMES),
        properties={c: frame[c].to_numpy(dtype=np.float32) for c in numeric},
        units={c: u for c, u in frame.attrs["units"].items() if c in numeric and u},
    )


def _from_simulator(name: str, n: int) -> EmbeddingCatalogue:
    from acie.galaxy.properties import PROPERTY_NAMES, UNITS
    from acie.galaxy.simulator import GalaxySimulator

    batch = GalaxySimulator().sample(n, seed=0, render=False)
    props = {k: np.asarray(batch.properties[k], dtype=np.float32) for k in PROPERTY_NAMES}
    props["redshift"] = np.asarray(batch.nuisances["redshift"], dtype=np.float32)
    return EmbeddingCatalogue(
        name=name,
        ids=np.arange(n, dtype=np.uint32),
        embeddings=np.column_stack([props[k] for k in PROPERTY_NAMES]).astype(np.float32),
        embedding_columns=tuple(PROPERTY_NAMES),
        properties=props,
        units={k: UNITS[k] for k in PROPERTY_NAMES if UNITS.get(k)},
    )


@lru_cache(maxsize=4)
def load_embedding_catalogue(name: str) -> EmbeddingCatalogue:
    """The catalogue ``name`` (a sample name or ``sim_<n>``); cached per process.

    Raises
    ------
    UnknownNameError
        Neither a sample nor ``sim_<n>`` with ``3 <= n <= 1,000,000``.
    """
    if name in catalogue_names():
        return _from_sample(name)
    return _from_simulator(name, sim_size(name))


def sim_size(name: str) -> int:
    """The ``n`` of a ``sim_<n>`` catalogue name.

    Raises
    ------
    UnknownNameError
        ``name`` is not ``sim_<n>`` with ``3 <= n <= 1,000,000``.
    """
    match = _SIM.match(name) if isinstance(name, str) else None
    if match is not None and 3 <= int(match.group(1)) <= MAX_SIM_GALAXIES:
        return int(match.group(1))
    raise UnknownNameError(
        f"unknown catalogue {name!r}; the catalogues are {', '.join(catalogue_names())} "
        f"and sim_<n> with 3 <= n <= {MAX_SIM_GALAXIES}"
    )
