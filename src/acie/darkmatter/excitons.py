"""Externally computed (BSE/GW) crystal form factors: format, validator, loader, examples.

ACIE does not solve the Bethe–Salpeter equation. This module defines the HDF5 format
(``acie.excitons`` v1, documented in ``docs/excitons-format.md``) in which form factors
computed elsewhere — with excitonic (BSE) or quasiparticle (GW) corrections — are handed
to the rate engine, validates such files with precise messages, loads them as a
:class:`~acie.darkmatter.formfactor.table.FormFactorTable`, and writes example files from the
project's own DFT tables. Example files are labelled ``is_bse = False`` and
``method = "DFT (NOT BSE)"``; nothing here invents or applies an enhancement factor.

This is a reader/writer module: it is the one place of the exciton feature that touches files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import astropy.units as u
import numpy as np

from acie._files import atomic_output
from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.units import BOHR
from acie.errors import DataFormatError, expected_got

__all__ = [
    "EXCITON_FORMAT",
    "EXCITON_FORMAT_VERSION",
    "ExcitonData",
    "read_excitons",
    "validate_excitons",
    "write_example_excitons",
]

EXCITON_FORMAT = "acie.excitons"
EXCITON_FORMAT_VERSION = 1

#: name -> (units attribute, ndim); required datasets
REQUIRED_DATASETS = {
    "f2": ("dimensionless", 2),
    "q": ("keV", 1),
    "energy": ("eV", 1),
    "kpoints": ("1/bohr", 2),
    "qpoints": ("1/bohr", 2),
    "excitation_energies": ("eV", 1),
}
OPTIONAL_DATASETS = {
    "f2_dft": ("dimensionless", 2),
    "f2_uncertainty": ("dimensionless", 2),
}
REQUIRED_ATTRS = (
    "format",
    "format_version",
    "material",
    "method",
    "code",
    "reference",
    "is_bse",
    "normalisation",
    "band_gap_eV",
    "cell_volume_bohr3",
    "cell_mass_eV",
)
#: the required attributes by type (``is_bse`` is a boolean)
_TEXT_ATTRS = ("format", "material", "method", "code", "reference", "normalisation")
_NUMBER_ATTRS = ("format_version", "band_gap_eV", "cell_volume_bohr3", "cell_mass_eV")

_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True)
class ExcitonData:
    """An external form factor and its companions.

    Attributes
    ----------
    table : FormFactorTable
        The external |f(q, E)|², ready for :mod:`acie.darkmatter.electron`.
    baseline : FormFactorTable or None
        The DFT (independent-particle) baseline on the same grid, if supplied.
    uncertainty : ndarray or None, shape (n_q, n_E)
        1σ absolute uncertainty of ``table.f2``, if supplied.
    kpoints, qpoints : ndarray, shape (n, 3), bohr⁻¹
    excitation_energies : Quantity ['energy'], (n_S,)
    method, code, reference : str
    is_bse : bool
        False for the example files made from DFT tables.
    """

    table: FormFactorTable
    baseline: FormFactorTable | None
    uncertainty: np.ndarray | None
    kpoints: np.ndarray
    qpoints: np.ndarray
    excitation_energies: u.Quantity
    method: str
    code: str
    reference: str
    is_bse: bool
    metadata: dict = field(default_factory=dict)


def _s(v: object) -> object:
    return v.decode() if isinstance(v, bytes) else v


def _text(value: object, what: str) -> str:
    """An HDF5 string attribute as str (fixed-length ones are stored as bytes)."""
    text = _s(value)
    if not isinstance(text, str):
        raise DataFormatError(expected_got(what, "a string", text))
    return text


def _number(value: object, what: str) -> float:
    """An HDF5 numeric attribute as float; booleans and strings are not numbers."""
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise DataFormatError(expected_got(what, "a number", _s(value)))
    return float(value)


def _metadata(value: object, what: str) -> dict[str, object]:
    """The ``metadata_json`` attribute, parsed: it must hold a JSON object."""
    try:
        meta = json.loads(_text(value, what))
    except json.JSONDecodeError as exc:
        raise DataFormatError(expected_got(what, "valid JSON", str(exc))) from None
    if not isinstance(meta, dict):
        raise DataFormatError(expected_got(what, "a JSON object", type(meta).__name__))
    return meta


def _check_file(fh) -> list[str]:
    """Every problem with an open file, as precise messages (empty list = valid)."""
    errs = _check_attrs(fh.attrs)
    data = _read_datasets(fh, errs)
    _check_grids(data, errs)
    _check_form_factors(data, errs)
    return errs


def _parsed(
    attrs, names: tuple[str, ...], parse: Callable[[object, str], _T], errs: list[str]
) -> dict[str, _T]:
    """The attributes ``names`` that are present and parse; each failure to ``errs``."""
    out: dict[str, _T] = {}
    for a in names:
        if a in attrs:
            try:
                out[a] = parse(attrs[a], f"root attribute {a!r}")
            except DataFormatError as exc:
                errs.append(str(exc))
    return out


def _check_attrs(attrs) -> list[str]:
    """Problems with the root attributes (``attrs``: the file's ``h5py`` attribute set)."""
    errs: list[str] = [f"missing root attribute {a!r}" for a in REQUIRED_ATTRS if a not in attrs]
    text = _parsed(attrs, _TEXT_ATTRS, _text, errs)
    number = _parsed(attrs, _NUMBER_ATTRS, _number, errs)
    if "format" in text and text["format"] != EXCITON_FORMAT:
        errs.append(expected_got("root attribute 'format'", repr(EXCITON_FORMAT), text["format"]))
    version = number.get("format_version")
    if version is not None and version != EXCITON_FORMAT_VERSION:
        got = int(version) if version.is_integer() else version
        errs.append(expected_got("format_version", str(EXCITON_FORMAT_VERSION), got))
    if "normalisation" in text and text["normalisation"] != "qcdark":
        errs.append(expected_got("normalisation", "'qcdark'", text["normalisation"]))
    for a in ("band_gap_eV", "cell_volume_bohr3", "cell_mass_eV"):
        v = number.get(a)
        if v is not None and (not np.isfinite(v) or v < 0 or (a != "band_gap_eV" and v == 0)):
            errs.append(expected_got(f"root attribute {a!r}", "finite and > 0", v))
    if "is_bse" in attrs and not isinstance(attrs["is_bse"], bool | np.bool_):
        errs.append(expected_got("root attribute 'is_bse'", "a boolean", attrs["is_bse"]))
    _parsed(attrs, ("metadata_json",), _metadata, errs)  # whether it parses
    return errs


def _read_datasets(fh, errs: list[str]) -> dict[str, np.ndarray]:
    """The datasets with the right units, dimensions and finite values; problems to ``errs``."""
    data: dict[str, np.ndarray] = {}
    for name, (unit, ndim) in {**REQUIRED_DATASETS, **OPTIONAL_DATASETS}.items():
        if name not in fh:
            if name in REQUIRED_DATASETS:
                errs.append(f"missing required dataset '/{name}' (units {unit!r}, {ndim}-D)")
            continue
        ds = fh[name]
        got_unit = _s(ds.attrs.get("units"))
        if got_unit != unit:
            errs.append(expected_got(f"units attribute of '/{name}'", repr(unit), got_unit))
        if ds.ndim != ndim:
            errs.append(expected_got(f"'/{name}'", f"a {ndim}-D array", f"shape {ds.shape}"))
            continue
        arr = np.asarray(ds[...], dtype=float)
        n_bad = int(np.sum(~np.isfinite(arr)))
        if n_bad:
            errs.append(expected_got(f"'/{name}'", "finite values", f"{n_bad} non-finite"))
            continue
        data[name] = arr
    return data


def _check_grids(data: dict[str, np.ndarray], errs: list[str]) -> None:
    """k/q-point shapes, the q and energy grids, and the excitation energies."""
    for name in ("kpoints", "qpoints"):
        if name in data and data[name].shape[1:] != (3,):
            errs.append(expected_got(f"'/{name}'", "shape (n, 3)", f"shape {data[name].shape}"))
    for name, positive in (("q", True), ("energy", False)):
        if name in data:
            g = data[name]
            if g.size < 2 or np.any(np.diff(g) <= 0):
                errs.append(
                    expected_got(
                        f"'/{name}'",
                        "a strictly increasing grid of >= 2 bin centres",
                        f"{g.size} values" if g.size < 2 else "a non-increasing grid",
                    )
                )
            elif (positive and g[0] <= 0) or g[0] < 0:
                errs.append(
                    expected_got(
                        f"'/{name}'", "values > 0" if positive else "values >= 0", f"first {g[0]}"
                    )
                )
    if "excitation_energies" in data:
        x, what = data["excitation_energies"], "'/excitation_energies'"
        if x.size == 0:
            errs.append(expected_got(what, "at least one energy", "an empty array"))
        elif np.any(x <= 0):
            errs.append(expected_got(what, "values > 0 eV", f"minimum {x.min()}"))


def _check_form_factors(data: dict[str, np.ndarray], errs: list[str]) -> None:
    """Shapes and signs of the f2 arrays, and no absorption below the lowest excitation."""
    shape = (data["q"].size, data["energy"].size) if "q" in data and "energy" in data else None
    for name in ("f2", "f2_dft", "f2_uncertainty"):
        if name not in data:
            continue
        if shape is not None and data[name].shape != shape:
            errs.append(
                expected_got(
                    f"'/{name}'", f"shape (n_q, n_E) = {shape}", f"shape {data[name].shape}"
                )
            )
        elif np.any(data[name] < 0):
            errs.append(expected_got(f"'/{name}'", "values >= 0", f"minimum {data[name].min()}"))
    x = data.get("excitation_energies")
    if shape is None or "f2" not in data or data["f2"].shape != shape or x is None or not x.size:
        return
    e = data["energy"]
    if e.size < 2:
        return
    half = 0.5 * np.diff(e).min()
    below = e + half < x.min()
    if np.any(data["f2"][:, below] > 0):
        first = float(e[below][np.any(data["f2"][:, below] > 0, axis=0)][0])
        errs.append(
            f"'/f2' is non-zero at E = {first:g} eV, below the lowest excitation energy "
            f"{x.min():g} eV (nothing can be absorbed there)"
        )


def validate_excitons(path: str | os.PathLike) -> list[str]:
    """Check a file against the ``acie.excitons`` v1 rules.

    Returns
    -------
    list of str
        Every problem found, each saying what was expected and what was found; empty if
        the file is valid.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"exciton file {str(path)!r} does not exist")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        return [expected_got(f"exciton file {str(path)!r}", "an HDF5 file", str(exc))]
    with fh:
        return _check_file(fh)


def read_excitons(path: str | os.PathLike) -> ExcitonData:
    """Load a validated ``acie.excitons`` file.

    Raises
    ------
    DataFormatError
        If :func:`validate_excitons` finds any problem (all are listed in the message).
    """
    import h5py

    errs = validate_excitons(path)
    if errs:
        raise DataFormatError(f"{path}: " + "; ".join(errs))
    with h5py.File(path, "r") as fh:
        attrs = fh.attrs
        text = {a: _text(attrs[a], f"root attribute {a!r}") for a in _TEXT_ATTRS}
        number = {a: _number(attrs[a], f"root attribute {a!r}") for a in _NUMBER_ATTRS}
        is_bse = bool(attrs["is_bse"])
        meta = (
            _metadata(attrs["metadata_json"], "metadata_json") if "metadata_json" in attrs else {}
        )
        d = {k: fh[k][...] for k in fh if k in REQUIRED_DATASETS or k in OPTIONAL_DATASETS}

    def table(f2: np.ndarray) -> FormFactorTable:
        return FormFactorTable(
            material=text["material"],
            q=d["q"] * u.keV,
            energy=d["energy"] * u.eV,
            f2=f2,
            band_gap=number["band_gap_eV"] * u.eV,
            cell_volume=number["cell_volume_bohr3"] * BOHR**3,
            cell_mass=number["cell_mass_eV"] * u.eV,
            scissor_applied=False,
            metadata={
                "settings": meta,
                "provenance": {
                    "method": text["method"],
                    "code": text["code"],
                    "reference": text["reference"],
                    "is_bse": is_bse,
                },
            },
        )

    return ExcitonData(
        table=table(d["f2"]),
        baseline=table(d["f2_dft"]) if "f2_dft" in d else None,
        uncertainty=d.get("f2_uncertainty"),
        kpoints=d["kpoints"],
        qpoints=d["qpoints"],
        excitation_energies=d["excitation_energies"] * u.eV,
        method=text["method"],
        code=text["code"],
        reference=text["reference"],
        is_bse=is_bse,
        metadata=meta,
    )


def write_example_excitons(table: FormFactorTable, path: str | os.PathLike) -> Path:
    """Write an ``acie.excitons`` example file from a DFT table — clearly NOT BSE.

    ``/f2`` and ``/f2_dft`` are both the DFT form factor (so the comparison ratio is 1),
    ``/excitation_energies`` holds only the independent-particle threshold (the band gap),
    ``is_bse = False`` and ``method = "DFT (NOT BSE)"``. Use it as a template to fill with
    real external results.
    """
    import h5py

    if not isinstance(table, FormFactorTable):
        raise DataFormatError(expected_got("table", "a FormFactorTable", type(table).__name__))
    settings = table.metadata.get("settings", {}) if isinstance(table.metadata, dict) else {}
    kpts = np.asarray(settings.get("kpts_bohr_inv", [[0.0, 0.0, 0.0]]), dtype=float).reshape(-1, 3)
    dk = (kpts[None, :, :] - kpts[:, None, :]).reshape(-1, 3)
    qpts = np.unique(np.round(dk, 12), axis=0)
    path = Path(path)
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.attrs.update(
            {
                "format": EXCITON_FORMAT,
                "format_version": EXCITON_FORMAT_VERSION,
                "material": table.material,
                "method": "DFT (NOT BSE)",
                "code": "ACIE/PySCF independent-particle DFT (example file)",
                "reference": "none: example generated from an ACIE DFT table; contains no excitonic physics",
                "is_bse": False,
                "normalisation": "qcdark",
                "band_gap_eV": table.band_gap_eV,
                "cell_volume_bohr3": table.cell_volume_bohr3,
                "cell_mass_eV": table.cell_mass_eV,
                "metadata_json": json.dumps({"source_settings": settings}, default=str),
            }
        )
        for name, arr in (
            ("f2", table.f2),
            ("f2_dft", table.f2),
            ("q", table.q_keV),
            ("energy", table.energy_eV),
            ("kpoints", kpts),
            ("qpoints", qpts),
            ("excitation_energies", np.array([table.band_gap_eV])),
        ):
            unit = {**REQUIRED_DATASETS, **OPTIONAL_DATASETS}[name][0]
            ds = fh.create_dataset(name, data=np.asarray(arr, dtype=float), compression="gzip")
            ds.attrs["units"] = unit
        fh["excitation_energies"].attrs["note"] = (
            "independent-particle threshold (band gap), not a BSE eigenvalue"
        )
    return path
