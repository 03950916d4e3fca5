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
MediatorOpt = Annotated[
    str,
    typer.Option(
        help="Electron channel mediator: heavy, light, or a mass with units (10keV, 0.5MeV; "
        "a plain number is MeV)."
    ),
]
WarnBeyondOpt = Annotated[
    float,
    typer.Option(
        help="Electron: warn when more than this fraction of the rate is estimated to lie "
        "beyond the form-factor table's q/E range (1 = never)."
    ),
]
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target",
        "-t",
        help="Nuclear target: Xe, Ar, Ge, Si, Na, I, Cs, F, Al, C, NaI, CsI, C3F8.",
    ),
]


def load_table(spec: str | None, option: str = "--formfactor"):
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
        if _is_exciton_file(p):
            from acie.darkmatter.excitons import read_excitons

            return read_excitons(p).table
        return read_formfactor(p)
    if p.suffix in (".h5", ".hdf5") or len(p.parts) > 1:
        raise InputValidationError(
            f"{option} {spec!r}: no such file (a shipped material name such as Ge needs no file)"
        )
    return shipped_table(spec)


def _is_exciton_file(p: Path) -> bool:
    import h5py

    from acie.darkmatter.excitons import EXCITON_FORMAT

    try:
        with h5py.File(p, "r") as fh:
            fmt = fh.attrs.get("format")
    except OSError:
        return False
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    return fmt == EXCITON_FORMAT


def table_uncertainty(spec: str | None, table):
    """The 1σ f2 uncertainty of an exciton file as a table on ``table``'s grid, else None."""
    from dataclasses import replace

    p = Path(spec or "")
    if not (spec and p.exists() and _is_exciton_file(p)):
        return None
    from acie.darkmatter.excitons import read_excitons

    unc = read_excitons(p).uncertainty
    return None if unc is None else replace(table, f2=unc)


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


def parse_mediator(text: str, option: str = "--mediator"):
    """``heavy``, ``light``, a mass with units (``10keV``, ``0.5 MeV``) or a number in MeV."""
    import astropy.units as u

    from acie.errors import InputValidationError, expected_got

    t = str(text).strip()
    if t.lower() in ("heavy", "light"):
        return t.lower()
    try:
        q = u.Quantity(t) if any(c.isalpha() for c in t) else float(t) * u.MeV
        val = q.to_value(u.MeV)
    except (TypeError, ValueError, u.UnitsError):
        raise InputValidationError(
            expected_got(option, "heavy, light, or a mediator mass such as 10keV or 0.5", text)
        ) from None
    if not val >= 0 or val == float("inf"):
        raise InputValidationError(expected_got(option, "a mediator mass >= 0", text))
    return val * u.MeV


def mediator_text(mediator) -> str:
    """How the settings block names a parsed mediator."""
    return mediator if isinstance(mediator, str) else f"{mediator.to_value('MeV'):g} MeV mass"


def check_range(lo: float, hi: float, n: int, names: tuple[str, str, str], *, positive=False):
    """Refuse an empty or reversed range, naming the options and values."""
    from acie.errors import InputValidationError

    a, b, c = names
    if n < 1:
        raise InputValidationError(f"{c} must be >= 1; got {n}")
    if positive and lo <= 0:
        raise InputValidationError(f"{a} must be > 0; got {lo:g}")
    if lo < 0:
        raise InputValidationError(f"{a} must be >= 0; got {lo:g}")
    if hi < lo:
        raise InputValidationError(f"{b} must be >= {a} ({lo:g}); got {hi:g}")


class table_warnings:
    """Collect :class:`TableRangeWarning` s and print each as one ``warning:`` line on stderr."""

    def __enter__(self):
        import warnings

        from acie.darkmatter.table_range import TableRangeWarning

        self._cm = warnings.catch_warnings(record=True)
        self.caught = self._cm.__enter__()
        warnings.simplefilter("always", TableRangeWarning)
        return self

    def __exit__(self, *exc) -> None:
        from acie.darkmatter.table_range import TableRangeWarning

        self._cm.__exit__(*exc)
        seen = set()
        for w in self.caught:
            if issubclass(w.category, TableRangeWarning) and str(w.message) not in seen:
                seen.add(str(w.message))
                typer.echo(f"warning: {w.message}", err=True)
