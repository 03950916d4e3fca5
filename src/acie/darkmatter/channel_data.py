"""Reading the shipped tables of the nuclear side channels (spin-dependent, Migdal).

Two CSV tables live under ``acie/darkmatter/data`` (provenance in each folder's
``REFERENCE.md``):

* ``sd/xe_klos2013.csv``: shell-model spin-dependent structure functions S_p(E_R), S_n(E_R)
  of ¹²⁹Xe and ¹³¹Xe (Klos, Menéndez, Gazit & Schwenk 2013), central value and the band
  from two-body currents, on 0–600 keV recoil energy;
* ``sd/klos2013_fits.csv``: the published fit coefficients of S_00, S_11 and S_01(u) of ¹⁹F,
  ²³Na, ²⁷Al, ²⁹Si, ⁷³Ge, ¹²⁷I, ¹²⁹Xe and ¹³¹Xe (same paper), evaluated by
  :mod:`acie.darkmatter.sd_fits`;
* ``migdal/migdal_transition_<El>.csv``: differential ionisation probabilities per shell
  (n, l) of Xe, Ar, Ge and Si (Ibe, Nakano, Shoji & Suzuki 2018).

This is the only module of the channels that touches files; the science modules take the
arrays it returns.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from acie.errors import DataFormatError, UnknownNameError, expected_got

__all__ = ["MIGDAL_ELEMENTS", "read_migdal_table", "read_sd_fits", "read_sd_table"]

#: Elements with a shipped Migdal table.
MIGDAL_ELEMENTS = ("Ar", "Ge", "Si", "Xe")


def _lines(folder: str, name: str) -> list[str]:
    item = resources.files("acie.darkmatter") / "data" / folder / name
    return [ln for ln in item.read_text().splitlines() if ln.strip()]


def _read_csv(folder: str, name: str) -> tuple[list[str], np.ndarray]:
    lines = _lines(folder, name)
    header = [h.strip() for h in lines[0].split(",")]
    try:
        values = np.array([[float(x) for x in ln.split(",")] for ln in lines[1:]], dtype=float)
    except ValueError as exc:
        raise DataFormatError(
            expected_got(f"table {folder}/{name}", "numeric CSV rows", str(exc))
        ) from None
    if values.ndim != 2 or values.shape[1] != len(header):
        raise DataFormatError(
            expected_got(f"table {folder}/{name}", f"{len(header)} columns", values.shape)
        )
    return header, values


@lru_cache(maxsize=1)
def read_sd_table() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Recoil energies (keV) and structure-function columns named ``Xe129_p_central`` etc."""
    header, values = _read_csv("sd", "xe_klos2013.csv")
    energies = values[:, 0]
    if header[0] != "E_keV" or np.any(np.diff(energies) <= 0):
        raise DataFormatError(
            expected_got("sd/xe_klos2013.csv", "increasing E_keV first column", header[0])
        )
    return energies, {h: values[:, i] for i, h in enumerate(header) if i}


#: Columns of ``sd/klos2013_fits.csv`` after ``isotope,k``.
SD_FIT_COLUMNS = ("S00", "S11_min", "S11_max", "S01_min", "S01_max")


@lru_cache(maxsize=1)
def read_sd_fits() -> dict[str, np.ndarray]:
    """Klos et al. 2013 fit coefficients per isotope: array (k, 5) in :data:`SD_FIT_COLUMNS` order.

    Raises
    ------
    DataFormatError
        If the header, the powers k (0, 1, ... in order) or a value is not as expected.
    """
    where = "sd/klos2013_fits.csv"
    lines = _lines("sd", "klos2013_fits.csv")
    header = tuple(h.strip() for h in lines[0].split(","))
    if header != ("isotope", "k", *SD_FIT_COLUMNS):
        raise DataFormatError(
            expected_got(f"{where} header", ",".join(("isotope", "k", *SD_FIT_COLUMNS)), header)
        )
    rows: dict[str, list[list[float]]] = {}
    for ln in lines[1:]:
        iso, k, *vals = (x.strip() for x in ln.split(","))
        got = rows.setdefault(iso, [])
        if len(vals) != len(SD_FIT_COLUMNS) or not k.isdigit() or int(k) != len(got):
            raise DataFormatError(
                expected_got(f"{where} row for {iso}", f"k = {len(got)} and 5 values", ln)
            )
        try:
            got.append([float(v) for v in vals])
        except ValueError:
            raise DataFormatError(expected_got(f"{where} row", "numbers", ln)) from None
    return {iso: np.array(v, dtype=float) for iso, v in rows.items()}


@lru_cache(maxsize=len(MIGDAL_ELEMENTS))
def read_migdal_table(element: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Electron energies (eV) and dp/dE_e (1/eV at q_e = 1 eV) per shell ``"n_l"`` of ``element``."""
    if element not in MIGDAL_ELEMENTS:
        raise UnknownNameError(
            expected_got("Migdal element", f"one of {list(MIGDAL_ELEMENTS)}", element)
        )
    header, values = _read_csv("migdal", f"migdal_transition_{element}.csv")
    if header[-1] != "E":
        raise DataFormatError(expected_got(f"Migdal table {element}", "last column E", header[-1]))
    return values[:, -1], {h: values[:, i] for i, h in enumerate(header[:-1])}
