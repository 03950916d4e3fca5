"""Reading the shipped tables of the nuclear side channels (spin-dependent, Migdal).

Two CSV tables live under ``acie/darkmatter/data`` (provenance in each folder's
``REFERENCE.md``):

* ``sd/xe_klos2013.csv``: shell-model spin-dependent structure functions S_p(E_R), S_n(E_R)
  of ¹²⁹Xe and ¹³¹Xe (Klos, Menéndez, Gazit & Schwenk 2013), central value and the band
  from two-body currents, on 0–600 keV recoil energy;
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

__all__ = ["MIGDAL_ELEMENTS", "read_migdal_table", "read_sd_table"]

#: Elements with a shipped Migdal table.
MIGDAL_ELEMENTS = ("Ar", "Ge", "Si", "Xe")


def _read_csv(folder: str, name: str) -> tuple[list[str], np.ndarray]:
    item = resources.files("acie.darkmatter") / "data" / folder / name
    text = item.read_text()
    lines = [ln for ln in text.splitlines() if ln.strip()]
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
