"""Read and write galaxy catalogues, with column units where the format can carry them.

CSV goes through pandas, FITS binary tables through astropy and Parquet through pyarrow.

* FITS: the units of the ``TUNITn`` keywords, read with :class:`astropy.table.Table`.
* Parquet: a JSON object ``{"column": "unit"}`` in the schema metadata under
  ``acie.units`` (written by :func:`save_catalogue`).
* CSV: no units.

Either way the DataFrame's ``attrs["units"]`` maps column names to astropy unit strings
(missing for unitless columns). Writers go through a temporary file in the target
folder and an atomic rename, so a failed write never leaves half a file behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

import pandas as pd

from acie._files import atomic_output
from acie.errors import DataFormatError, InputValidationError, UnknownNameError, expected_got

__all__ = ["CatalogueFormat", "load_catalogue", "save_catalogue"]

_UNITS_KEY = b"acie.units"


class CatalogueFormat(StrEnum):
    """Supported catalogue formats."""

    CSV = "csv"
    FITS = "fits"
    PARQUET = "parquet"


_SUFFIXES = {
    ".csv": CatalogueFormat.CSV,
    ".fits": CatalogueFormat.FITS,
    ".fit": CatalogueFormat.FITS,
    ".fts": CatalogueFormat.FITS,
    ".parquet": CatalogueFormat.PARQUET,
    ".pq": CatalogueFormat.PARQUET,
}


def _format(path: Path, fmt: CatalogueFormat | str | None) -> CatalogueFormat:
    if fmt is not None:
        try:
            return CatalogueFormat(str(fmt).lower())
        except ValueError:
            raise InputValidationError(
                expected_got("format", f"one of {[f.value for f in CatalogueFormat]}", fmt)
            ) from None
    suffix = path.suffix.lower()
    if suffix == ".gz" and path.stem.lower().endswith((".fits", ".fit")):
        return CatalogueFormat.FITS
    if suffix not in _SUFFIXES:
        raise InputValidationError(
            expected_got(
                f"the extension of {str(path)!r}",
                f"one of {sorted(_SUFFIXES)} (or pass format=)",
                suffix or "(none)",
            )
        )
    return _SUFFIXES[suffix]


def load_catalogue(
    path: str | os.PathLike,
    *,
    format: CatalogueFormat | str | None = None,
    columns: Sequence[str] | None = None,
    hdu: int | str = 1,
) -> pd.DataFrame:
    """Read a catalogue into a DataFrame (units in ``attrs["units"]``).

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.fits``/``.fit``/``.fts``(``.gz``) or ``.parquet``/``.pq``.
    format : CatalogueFormat or str, optional
        Overrides the extension.
    columns : sequence of str, optional
        Columns to keep (all must exist).
    hdu : int or str
        FITS extension holding the table (default the first extension).

    Raises
    ------
    InputValidationError
        No such file, unknown extension or format.
    DataFormatError
        The file cannot be parsed as that format, or a FITS column is multidimensional.
    UnknownNameError
        A requested column is missing (the message lists the available ones).
    """
    path = Path(path)
    fmt = _format(path, format)
    if not path.is_file():
        raise InputValidationError(expected_got("path", "an existing catalogue file", str(path)))
    units: dict[str, str] = {}
    try:
        if fmt is CatalogueFormat.CSV:
            frame = pd.read_csv(path)
        elif fmt is CatalogueFormat.PARQUET:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            meta = table.schema.metadata or {}
            if _UNITS_KEY in meta:
                units = json.loads(meta[_UNITS_KEY])
            frame = table.to_pandas()
        else:
            import warnings

            from astropy.table import Table
            from astropy.units import UnitsWarning

            with warnings.catch_warnings():  # non-FITS units are kept verbatim
                warnings.simplefilter("ignore", UnitsWarning)
                table = Table.read(path, format="fits", hdu=hdu)
            multi = [c for c in table.colnames if table[c].ndim > 1]
            if multi:
                raise DataFormatError(
                    f"FITS table {path.name} has multidimensional columns "
                    f"{multi}; a catalogue needs one value per row and column"
                )
            units = {
                c: table[c].unit.to_string() for c in table.colnames if table[c].unit is not None
            }
            frame = table.to_pandas()
    except DataFormatError:
        raise
    except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot read {str(path)!r} as {fmt.value}: {exc}") from exc
    except Exception as exc:  # pyarrow raises its own ArrowInvalid (a ValueError) and others
        raise DataFormatError(f"cannot read {str(path)!r} as {fmt.value}: {exc}") from exc
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UnknownNameError(
                f"catalogue {path.name} lacks column(s) {missing}; the "
                f"columns are: {', '.join(map(str, frame.columns))}"
            )
        frame = frame[list(columns)]
    frame.attrs["units"] = {c: u for c, u in units.items() if c in frame.columns}
    return frame


def save_catalogue(
    frame: pd.DataFrame,
    path: str | os.PathLike,
    *,
    format: CatalogueFormat | str | None = None,
    units: dict[str, str] | None = None,
) -> Path:
    """Write a catalogue atomically.

    Units from ``units`` or ``frame.attrs["units"]`` are stored in FITS ``TUNITn`` and
    Parquet metadata (CSV has none).

    Returns
    -------
    pathlib.Path
        The written path.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputValidationError(
            expected_got("frame", "a pandas DataFrame", type(frame).__name__)
        )
    path = Path(path)
    fmt = _format(path, format)
    units = dict(units if units is not None else frame.attrs.get("units", {}))
    units = {k: v for k, v in units.items() if k in frame.columns and v}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        if fmt is CatalogueFormat.CSV:
            frame.to_csv(tmp, index=False)
        elif fmt is CatalogueFormat.PARQUET:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            meta = dict(table.schema.metadata or {})
            meta[_UNITS_KEY] = json.dumps(units).encode()
            pq.write_table(table.replace_schema_metadata(meta), tmp)
        else:
            from astropy import units as u
            from astropy.io import fits
            from astropy.table import Table

            table = Table.from_pandas(frame.reset_index(drop=True))
            raw = {}  # units FITS cannot spell (e.g. dex(solMass)) go into TUNITn verbatim
            for col, unit in units.items():
                try:
                    u.Unit(unit).to_string(format="fits")
                    table[col].unit = u.Unit(unit)
                except ValueError:
                    raw[col] = unit
            table.write(tmp, format="fits", overwrite=True)
            if raw:
                with fits.open(tmp, mode="update") as hdul:
                    names = hdul[1].columns.names
                    for col, unit in raw.items():
                        hdul[1].header[f"TUNIT{names.index(col) + 1}"] = unit
    return path
