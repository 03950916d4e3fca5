"""Seeded galaxy datasets in compact HDF5, and their reader.

Layout (``format = "acie.galaxy.dataset"``, ``format_version = 1``)::

    /images                       (n, n_bands, H, W) float16, gzip + shuffle  [nanomaggy/pixel]
    /flux                         (n, n_bands) float64                       [nanomaggy]
    /luminosity_distance          (n,) float64                                [Mpc]
    /angular_diameter_distance    (n,) float64                                [Mpc]
    /properties/<node>            (n,) float64, attrs["unit"]
    /noise/<exogenous>            (n,) float64
    /nuisances/<name>             (n,) float64 (noise_seed: int64), attrs["unit"]
    attrs: bands, pixel_scale [arcsec], image_unit, seed, chunk_size, simulator (JSON),
           acie_version, created (UTC ISO 8601)

float16 keeps 11 significant bits (relative rounding 2^-11 = 4.9e-4), well below the
pixel noise. Chunk ``k`` of ``chunk_size`` galaxies is drawn from
``default_rng(SeedSequence(seed).spawn(n_chunks)[k])``, so a file is reproducible from
``(n, seed, chunk_size, simulator config)``. Files are written to a temporary name in the
target folder and renamed when complete, so a crash never leaves a half-written file.
Chunks are independent tasks: with ``map_tasks`` (e.g. an
:class:`acie.compute.executor.Executor`) they are simulated elsewhere and written here in
order, so the file is the same whatever the backend and worker count.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from acie._files import atomic_output
from acie.errors import DataFormatError, InputValidationError
from acie.galaxy.batch import GalaxyBatch
from acie.galaxy.mechanisms import EXOGENOUS_NAMES
from acie.galaxy.properties import NUISANCE_NAMES, NUISANCE_UNITS, PROPERTY_NAMES, UNITS
from acie.galaxy.simulator import GalaxySimulator

if TYPE_CHECKING:
    import h5py

__all__ = ["FORMAT", "FORMAT_VERSION", "GalaxyH5Dataset", "read_dataset", "write_dataset"]

FORMAT = "acie.galaxy.dataset"
FORMAT_VERSION = 1


def write_dataset(
    path: str | os.PathLike,
    simulator: GalaxySimulator,
    n: int,
    *,
    seed: int,
    chunk_size: int = 1000,
    progress: bool = True,
    map_tasks: Callable[..., Iterable[Any]] | None = None,
) -> Path:
    """Simulate ``n`` galaxies and write them to an HDF5 file at ``path``.

    Parameters
    ----------
    path : path-like
        Output file (``.h5``); its folder must exist. An existing file is replaced.
    simulator : GalaxySimulator
    n : int
        Number of galaxies (>= 1).
    seed : int
        Root seed (see the module docstring).
    chunk_size : int
        Galaxies simulated and written per block (memory ~ chunk_size x 40 x H x W x 4 B).
    progress : bool
        Show a tqdm progress bar on stderr.
    map_tasks : callable, optional
        ``map_tasks(fn, items, **common)`` yielding results in item order; simulates the
        chunks there (default: in this process).

    Returns
    -------
    Path
        The written file.
    """
    import h5py
    from tqdm import tqdm

    from acie import __version__

    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise InputValidationError(f"n must be a positive integer; got {n!r}")
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise InputValidationError(f"chunk_size must be a positive integer; got {chunk_size!r}")
    path = Path(path)
    if not path.parent.is_dir():
        raise InputValidationError(f"output folder {str(path.parent)!r} does not exist")
    n_chunks = -(-int(n) // int(chunk_size))
    seeds = np.random.SeedSequence(int(seed)).spawn(n_chunks)
    b, s = len(simulator.bands), simulator.image_size
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "bands": json.dumps(list(simulator.bands)),
                "pixel_scale": simulator.pixel_scale,
                "image_unit": "nanomaggy / pixel",
                "seed": int(seed),
                "chunk_size": int(chunk_size),
                "simulator": json.dumps(simulator.config()),
                "acie_version": __version__,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        images = f.create_dataset(
            "images",
            shape=(n, b, s, s),
            dtype="f2",
            chunks=(min(64, n), b, s, s),
            compression="gzip",
            compression_opts=4,
            shuffle=True,
        )
        flux = f.create_dataset("flux", shape=(n, b), dtype="f8")
        d_l = f.create_dataset("luminosity_distance", shape=(n,), dtype="f8")
        d_l.attrs["unit"] = "Mpc"
        d_a = f.create_dataset("angular_diameter_distance", shape=(n,), dtype="f8")
        d_a.attrs["unit"] = "Mpc"
        groups = {}
        for gname, names, units in (
            ("properties", PROPERTY_NAMES, UNITS),
            ("noise", EXOGENOUS_NAMES, {}),
            ("nuisances", NUISANCE_NAMES, NUISANCE_UNITS),
        ):
            g = f.create_group(gname)
            for name in names:
                dt = "i8" if name == "noise_seed" else "f8"
                ds = g.create_dataset(name, shape=(n,), dtype=dt)
                ds.attrs["unit"] = units.get(name, "")
            groups[gname] = g
        with tqdm(total=n, desc="galaxies", unit="gal", disable=not progress) as bar:
            spans = [(k * chunk_size, min((k + 1) * chunk_size, n)) for k in range(n_chunks)]
            tasks = [(ss, hi - lo) for ss, (lo, hi) in zip(seeds, spans, strict=True)]
            batches = (map_tasks or _serial)(_simulate_chunk, tasks, simulator=simulator)
            for (lo, hi), batch in zip(spans, batches, strict=True):
                images[lo:hi] = batch.images.astype(np.float16)
                flux[lo:hi] = batch.flux
                d_l[lo:hi] = batch.luminosity_distance
                d_a[lo:hi] = batch.angular_diameter_distance
                for gname, data in (
                    ("properties", batch.properties),
                    ("noise", batch.noise),
                    ("nuisances", batch.nuisances),
                ):
                    for name, arr in data.items():
                        groups[gname][name][lo:hi] = arr
                bar.update(hi - lo)
    return path


def _serial(fn, items, /, **common):
    for item in items:
        yield fn(item, **common)


def _simulate_chunk(
    task: tuple[np.random.SeedSequence, int], *, simulator: GalaxySimulator
) -> GalaxyBatch:
    """One chunk of galaxies from its own seed: the task of :func:`write_dataset`."""
    ss, size = task
    noise, nuis = simulator.draw_noise(size, np.random.default_rng(ss))
    return simulator.from_noise(noise, nuis)


def _open(path: str | os.PathLike) -> h5py.File:
    """Open an ACIE galaxy dataset read-only, checking its format attributes."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise InputValidationError(f"dataset file {str(path)!r} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataFormatError(f"{str(path)!r} is not an HDF5 file: {exc}") from exc
    fmt, version = f.attrs.get("format"), f.attrs.get("format_version")
    if fmt != FORMAT:
        f.close()
        raise DataFormatError(
            f"{str(path)!r} is not an ACIE galaxy dataset (attribute format must be {FORMAT!r}; "
            f"got {fmt!r})"
        )
    if version is None or int(version) != FORMAT_VERSION:
        f.close()
        raise DataFormatError(
            f"{str(path)!r} has format_version {version!r}; this reader needs {FORMAT_VERSION}"
        )
    return f


def read_dataset(
    path: str | os.PathLike, *, start: int = 0, stop: int | None = None, images: bool = True
) -> GalaxyBatch:
    """Read galaxies ``[start, stop)`` of a dataset file as a :class:`GalaxyBatch`.

    Images come back as float32 [nanomaggies / pixel]; with ``images=False`` the image
    array is empty ``(m, n_bands, 0, 0)``.

    Raises
    ------
    InputValidationError
        The file does not exist or the range is invalid.
    DataFormatError
        Not an ACIE galaxy dataset, wrong version, or missing datasets.
    """
    with _open(path) as f:
        try:
            n = f["images"].shape[0]
            stop = n if stop is None else stop
            if not 0 <= start <= stop <= n:
                raise InputValidationError(
                    f"need 0 <= start <= stop <= {n}; got start={start}, stop={stop}"
                )
            bands = tuple(json.loads(f.attrs["bands"]))
            sl = slice(start, stop)
            img = (
                f["images"][sl].astype(np.float32)
                if images
                else np.empty((stop - start, len(bands), 0, 0), dtype=np.float32)
            )
            props = {k: f["properties"][k][sl] for k in PROPERTY_NAMES}
            noise = {k: f["noise"][k][sl] for k in EXOGENOUS_NAMES}
            nuis = {k: f["nuisances"][k][sl] for k in NUISANCE_NAMES}
            return GalaxyBatch(
                properties=props,
                noise=noise,
                nuisances=nuis,
                images=img,
                bands=bands,
                pixel_scale=float(f.attrs["pixel_scale"]),
                flux=f["flux"][sl],
                luminosity_distance=f["luminosity_distance"][sl],
                angular_diameter_distance=f["angular_diameter_distance"][sl],
                meta={
                    "simulator": json.loads(f.attrs["simulator"]),
                    "seed": int(f.attrs["seed"]),
                    "chunk_size": int(f.attrs["chunk_size"]),
                    "path": str(path),
                },
            )
        except KeyError as exc:
            raise DataFormatError(f"{str(path)!r} lacks a required dataset: {exc}") from exc


class GalaxyH5Dataset:
    """Map-style dataset over a file (usable with ``torch.utils.data.DataLoader``).

    ``ds[i]`` is ``(image float32 (n_bands, H, W), properties float32 (10,))`` with the
    properties in :data:`~acie.galaxy.properties.PROPERTY_NAMES` order. The property table
    is read once; images are read lazily (the file is opened per worker on first access).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        with _open(self.path) as f:
            self._props = np.stack([f["properties"][k][:] for k in PROPERTY_NAMES], axis=1).astype(
                np.float32
            )
            self.bands = tuple(json.loads(f.attrs["bands"]))
        self._file: h5py.File | None = None

    def __len__(self) -> int:
        return self._props.shape[0]

    def __getitem__(self, i: int):
        f = self._file
        if f is None:
            f = self._file = _open(self.path)
        return f["images"][i].astype(np.float32), self._props[i]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None
        return state

    def close(self) -> None:
        """Close the lazily opened file (it reopens on the next access)."""
        if self._file is not None:
            self._file.close()
            self._file = None
