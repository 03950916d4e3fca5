"""Read and check an uploaded image cube and its catalogue (FITS, HDF5, .npy; CSV, FITS table).

A cube is ``(N, bands, H, W)`` float pixels: the first 4-D image HDU of a FITS file,
the ``images`` dataset (or the only 4-D dataset) of an HDF5 file, or a ``.npy`` array.
A catalogue has one row per image and the columns ``id, redshift, ra, dec, survey,
instrument``; RA and Dec are degrees (a FITS column with another angular unit is
converted; a non-angular unit is refused), ``0 ≤ ra < 360``, ``-90 ≤ dec ≤ 90``,
``redshift ≥ 0``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from acie.errors import (
    InputValidationError,
    NonPhysicalValueError,
    OutOfRangeError,
    ShapeError,
    UnitsError,
)

__all__ = [
    "CATALOGUE_COLUMNS",
    "CATALOGUE_SUFFIXES",
    "CUBE_SUFFIXES",
    "Catalogue",
    "check_cube",
    "read_catalogue",
    "read_cube",
]

CUBE_SUFFIXES = (".fits", ".fit", ".h5", ".hdf5", ".npy")
CATALOGUE_SUFFIXES = (".csv", ".fits", ".fit")
CATALOGUE_COLUMNS = ("id", "redshift", "ra", "dec", "survey", "instrument")


@dataclass(frozen=True)
class Catalogue:
    """One row per image: string ids, survey and instrument; float redshift, RA, Dec [deg]."""

    id: list[str]
    redshift: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    survey: list[str]
    instrument: list[str]

    def __len__(self) -> int:
        return len(self.id)

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as vector metadata."""
        return {
            "catalogue_id": self.id[i],
            "redshift": float(self.redshift[i]),
            "ra": float(self.ra[i]),
            "dec": float(self.dec[i]),
            "survey": self.survey[i],
            "instrument": self.instrument[i],
        }


def _suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise InputValidationError(
            f"{what} must be one of {', '.join(allowed)} files; got {path.name!r}"
        )
    return suffix


def read_cube(path: str | Path) -> np.ndarray:
    """The image cube ``(N, bands, H, W)`` float32 in ``path`` (.fits/.fit, .h5/.hdf5, .npy)."""
    p = Path(path)
    suffix = _suffix(p, CUBE_SUFFIXES, "an image cube")
    try:
        if suffix in (".fits", ".fit"):
            from astropy.io import fits

            with fits.open(p, memmap=False) as hdus:
                arrays = [
                    h.data for h in hdus if getattr(h, "is_image", False) and h.data is not None
                ]
                cube = next((a for a in arrays if a.ndim == 4), arrays[0] if arrays else None)
                cube = None if cube is None else np.array(cube)
        elif suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(p, "r") as f:
                sets = {k: v for k, v in f.items() if isinstance(v, h5py.Dataset)}
                name = "images" if "images" in sets else None
                four = [k for k, v in sets.items() if v.ndim == 4]
                name = name or (four[0] if len(four) == 1 else None)
                cube = None if name is None else np.asarray(sets[name][()])
        else:
            cube = np.load(p, allow_pickle=False)
    except (OSError, ValueError, KeyError) as err:
        raise InputValidationError(f"cannot read {p.name!r} as an image cube: {err}") from None
    if cube is None:
        raise InputValidationError(
            f"{p.name!r} holds no image cube (a FITS image HDU, an HDF5 'images' dataset)"
        )
    if cube.ndim != 4 or not np.issubdtype(cube.dtype, np.number):
        raise ShapeError(
            f"an image cube must be a numeric array (N, bands, H, W); got "
            f"{cube.dtype} of shape {cube.shape}"
        )
    return np.asarray(cube, dtype=np.float32)


def check_cube(cube: np.ndarray, image_shape: tuple[int, int, int]) -> None:
    """Check bands and size against the model's ``image_shape`` and that pixels are finite."""
    bands, h, w = image_shape
    if cube.shape[0] < 1:
        raise ShapeError(f"an image cube needs at least one image; got shape {cube.shape}")
    if cube.shape[1] != bands:
        raise ShapeError(
            f"the model embeds {bands}-band images; got {cube.shape[1]} bands "
            f"(cube shape {cube.shape})"
        )
    if cube.shape[2:] != (h, w):
        raise ShapeError(
            f"the model embeds {h}x{w}-pixel images; got {cube.shape[2]}x{cube.shape[3]}"
        )
    bad = ~np.isfinite(cube)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise NonPhysicalValueError(
            f"pixels must be finite; got {int(bad.sum())} NaN/inf pixels "
            f"(first in image {int(first[0])}, band {int(first[1])})"
        )


def _fits_columns(p: Path) -> dict[str, Any]:
    from astropy import units as u
    from astropy.table import Table

    table = Table.read(p, format="fits")
    cols: dict[str, Any] = {}
    for name in table.colnames:
        col = table[name]
        key = name.lower()
        if key in ("ra", "dec") and col.unit is not None:
            try:
                cols[key] = np.asarray(col.quantity.to_value(u.deg), dtype=np.float64)
            except u.UnitConversionError:
                raise UnitsError(
                    f"catalogue column {name!r} must be an angle (degrees); got unit {col.unit}"
                ) from None
        elif key == "redshift" and col.unit not in (None, u.dimensionless_unscaled):
            raise UnitsError(f"redshift is dimensionless; got unit {col.unit}")
        else:
            cols[key] = [v.decode() if isinstance(v, bytes) else v for v in col.tolist()]
    return cols


def _csv_columns(p: Path) -> dict[str, Any]:
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        names = [n.strip().lower() for n in reader.fieldnames or []]
    return {n: [r[k] for r in rows] for n, k in zip(names, reader.fieldnames or [], strict=True)}


def _floats(cols: dict[str, Any], name: str) -> np.ndarray:
    try:
        return np.asarray([float(v) for v in cols[name]], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputValidationError(f"catalogue column {name!r} must be numbers: {err}") from None


def read_catalogue(path: str | Path) -> Catalogue:
    """The catalogue in ``path`` (CSV with a header row, or a FITS binary table), checked."""
    p = Path(path)
    suffix = _suffix(p, CATALOGUE_SUFFIXES, "a catalogue")
    try:
        cols = _fits_columns(p) if suffix in (".fits", ".fit") else _csv_columns(p)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        if isinstance(err, InputValidationError):
            raise
        raise InputValidationError(f"cannot read {p.name!r} as a catalogue: {err}") from None
    missing = [c for c in CATALOGUE_COLUMNS if c not in cols]
    if missing:
        raise InputValidationError(
            f"a catalogue needs the columns {', '.join(CATALOGUE_COLUMNS)}; "
            f"{p.name!r} lacks {', '.join(missing)}"
        )
    z, ra, dec = _floats(cols, "redshift"), _floats(cols, "ra"), _floats(cols, "dec")
    for name, values, ok, rule in (
        ("redshift", z, (z >= 0) & np.isfinite(z), "≥ 0"),
        ("ra", ra, (ra >= 0) & (ra < 360), "in [0, 360) degrees"),
        ("dec", dec, (dec >= -90) & (dec <= 90), "in [-90, 90] degrees"),
    ):
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            v = values[i]
            raise OutOfRangeError(
                f"catalogue {name} must be {rule}; row {i} has {v if math.isfinite(v) else 'NaN'}"
            )
    ids = [str(v) for v in cols["id"]]
    if len(set(ids)) != len(ids):
        raise InputValidationError("catalogue ids must be unique")
    return Catalogue(
        id=ids,
        redshift=z,
        ra=ra,
        dec=dec,
        survey=[str(v) for v in cols["survey"]],
        instrument=[str(v) for v in cols["instrument"]],
    )
