"""Choices, shared options and input helpers of the `acie dm` commands."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Channel(StrEnum):
    """Recoil channel: WIMP–nucleus or DM–electron scattering."""

    nuclear = "nuclear"
    electron = "electron"


class Mediator(StrEnum):
    """DM–electron mediator: heavy (contact) or light (F_DM ∝ 1/q²)."""

    heavy = "heavy"
    light = "light"


class Method(StrEnum):
    """Upper-limit method of a counting experiment."""

    poisson = "poisson"
    fc = "fc"
    cls = "cls"


class Ionization(StrEnum):
    """Energy-to-pairs model of the electron channel."""

    step = "step"
    fano = "fano"


class PlotKind(StrEnum):
    """The figures `acie dm plot` draws."""

    spectrum = "spectrum"
    ne = "ne"
    eta = "eta"
    reach = "reach"
    formfactor = "formfactor"
    materials = "materials"


HaloOpt = Annotated[
    str, typer.Option("--halo", help="Parameter set name (see `acie dm halo`) or a .json file.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (with a units object).")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV (units in the column names).")]
FormFactorOpt = Annotated[
    str | None,
    typer.Option(
        "--formfactor",
        "-f",
        help="Form factor: a shipped material (Si, Ge, GaAs, NaI, CsI) or an HDF5 file "
        "(QCDark or ACIE format); electron channel.",
    ),
]
TargetOpt = Annotated[
    str, typer.Option("--target", "-t", help="Nuclear target: Xe, Ar, Ge, Si, Na, I, Cs, NaI, CsI.")
]


def load_table(spec: str | None):
    """The form-factor table named by ``spec``: a file path, or a shipped material's name.

    Raises
    ------
    InputValidationError
        If ``spec`` is missing (the electron channel needs a table).
    """
    from acie.darkmatter.formfactor.io import read_formfactor
    from acie.darkmatter.formfactor.shipped import shipped_table
    from acie.errors import InputValidationError

    if spec is None:
        raise InputValidationError(
            "the electron channel needs --formfactor: a shipped material (e.g. Ge) or an HDF5 "
            "file (QCDark or ACIE format)"
        )
    p = Path(spec)
    if p.exists():
        return read_formfactor(p)
    if p.suffix in (".h5", ".hdf5") or len(p.parts) > 1:
        raise InputValidationError(
            f"--formfactor {spec!r}: no such file (a shipped material name such as Ge needs no file)"
        )
    return shipped_table(spec)


def table_text(spec: str | None, table) -> str:
    """How the settings block names a table: source, material, k-mesh and grid."""
    from acie.darkmatter.formfactor.shipped import shipped_materials

    p = Path(spec or table.material)
    source = "shipped table" if spec in shipped_materials() and not p.exists() else str(p)
    km = table.metadata.get("settings", {}).get("kmesh")
    mesh = f", {'×'.join(map(str, km))} k-mesh" if km else ""
    return (
        f"{table.material} ({source}{mesh}; q ≤ {table.q_keV[-1]:.3g} keV, "
        f"E ≤ {table.energy_eV[-1]:.3g} eV)"
    )


def geomspace(lo: float, hi: float, n: int, what: str):
    """``n`` log-spaced values from ``lo`` to ``hi`` (typed error on a bad range)."""
    import numpy as np

    from acie.errors import NonPhysicalValueError, expected_got

    if not (lo > 0 and hi >= lo and n >= 1):
        raise NonPhysicalValueError(expected_got(what, "0 < min <= max and n >= 1", (lo, hi, n)))
    return np.geomspace(lo, hi, n)


def parse_kmesh(text: str) -> tuple[int, int, int]:
    """``"3x3x3"``, ``"3,3,3"`` or ``"3"`` as a k-mesh (typed error otherwise)."""
    from acie.errors import InputValidationError, expected_got

    parts = text.lower().replace(",", "x").split("x")
    try:
        km = tuple(int(p) for p in parts)
    except ValueError:
        raise InputValidationError(expected_got("--kmesh", "'NxNxN' (e.g. 3x3x3)", text)) from None
    if len(km) == 1:
        km = km * 3
    if len(km) != 3:
        raise InputValidationError(expected_got("--kmesh", "'NxNxN' (e.g. 3x3x3)", text))
    return (km[0], km[1], km[2])


def _masses(text: str):
    """Comma-separated masses in MeV as a Quantity."""
    import astropy.units as u
    import numpy as np

    from acie.errors import InputValidationError, expected_got

    try:
        vals = [float(x) for x in text.split(",")]
    except ValueError:
        raise InputValidationError(
            expected_got("--masses", "comma-separated MeV values or 'lo:hi:n'", text)
        ) from None
    return np.asarray(vals) * u.MeV


def parse_mass_grid(text: str):
    """``"lo:hi:n"`` (log-spaced) or comma-separated masses, MeV."""
    import astropy.units as u
    import numpy as np

    if ":" in text:
        lo, hi, n = text.split(":")
        return np.geomspace(float(lo), float(hi), int(n)) * u.MeV
    return _masses(text)


def parse_mediator(text: str):
    """``heavy``, ``light`` or a mediator mass in MeV."""
    import astropy.units as u

    return text if text in ("heavy", "light") else float(text) * u.MeV
