"""Reading and writing form-factor tables: QCDark's HDF5 layout and the ACIE format v1.

Two layouts are read:

* **QCDark** (Dreyer, Essig, Fernandez-Serra, Singal & Zhen, PRD 109, 115008 (2024),
  arXiv:2306.14944; code asingal14/QCDark): ``results/f2`` of shape (n_q, n_E) with
  ``results`` attributes ``dq`` (units of α mₑ), ``dE`` (eV), ``bandgap`` (eV), ``VCell``
  (eV⁻³, natural units), ``mCell`` (eV) and ``scissor``; bin centres are
  ``(i + 1/2)·dq`` and ``(j + 1/2)·dE``.
* **ACIE format v1** (this module's :func:`write_acie`), documented in
  ``docs/formfactor-format.md``.

Both hold f2 in the same normalisation (QCDark's); see
:class:`~acie.darkmatter.formfactor.table.FormFactorTable`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from acie._files import atomic_output
from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.units import ALPHA, BOHR, ME_EV
from acie.errors import DataFormatError, expected_got

__all__ = [
    "ACIE_FORMAT",
    "ACIE_FORMAT_VERSION",
    "read_acie",
    "read_formfactor",
    "read_qcdark",
    "write_acie",
]

ACIE_FORMAT = "acie.formfactor"
ACIE_FORMAT_VERSION = 1
_NORMALISATION = "qcdark"
_PROVENANCE_KEYS = ("settings", "software", "timings")


# --------------------------------------------------------------------- QCDark


def _h5py():
    import h5py

    return h5py


def _open(path: str | os.PathLike):
    h5py = _h5py()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"form-factor file {str(path)!r} does not exist")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataFormatError(
            expected_got(f"form-factor file {str(path)!r}", "an HDF5 file", str(exc))
        ) from None


def _attr(group, name: str, where: str):
    if name not in group.attrs:
        raise DataFormatError(expected_got(where, f"an attribute {name!r}", sorted(group.attrs)))
    val = group.attrs[name]
    return val.decode() if isinstance(val, bytes) else val


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _material_from_atoms(atom: str) -> str:
    symbols = []
    for line in atom.replace(";", "\n").splitlines():
        parts = line.split()
        if parts and parts[0] not in symbols:
            symbols.append(parts[0])
    return "".join(symbols) or "unknown"


def _check_binning(shape: tuple[int, ...], binning) -> None:
    """Refuse an f2 whose shape is not the (n_q, n_E) of ``run_settings/binning``.

    QCDark's binning is ``[[q0, dq, n_q], [E0, dE, n_E]]``; an f2 stored (n_E, n_q) would
    otherwise be read with its axes swapped.
    """
    expected = (round(float(binning[0][2])), round(float(binning[1][2])))
    if tuple(shape) == expected:
        return
    if tuple(shape) == expected[::-1]:
        raise DataFormatError(
            expected_got(
                "QCDark results/f2",
                f"shape (n_q, n_E) = {expected} from run_settings/binning (it looks transposed)",
                f"shape {tuple(shape)}",
            )
        )
    raise DataFormatError(
        expected_got(
            "QCDark results/f2",
            f"shape (n_q, n_E) = {expected} from run_settings/binning",
            f"shape {tuple(shape)}",
        )
    )


def read_qcdark(path: str | os.PathLike, *, material: str | None = None) -> FormFactorTable:
    """Read a QCDark ``*.hdf5`` crystal form factor.

    Parameters
    ----------
    path : path-like
        The QCDark output file.
    material : str, optional
        Name to give the material; by default the element symbols of
        ``run_settings.attrs['atom']`` (``"Ge"`` for germanium).

    Returns
    -------
    FormFactorTable
        q in keV (``dq`` × α mₑ), energy in eV, cell volume converted from eV⁻³ to bohr³.

    Raises
    ------
    DataFormatError
        If the layout is not QCDark's.
    """
    with _open(path) as fh:
        if "results" not in fh or "f2" not in fh["results"]:
            raise DataFormatError(
                expected_got(
                    f"QCDark file {str(path)!r}", "a dataset 'results/f2'", sorted(fh.keys())
                )
            )
        res = fh["results"]
        f2 = res["f2"][...]
        if f2.ndim != 2:
            raise DataFormatError(
                expected_got("QCDark results/f2", "a 2-D (n_q, n_E) array", f"shape {f2.shape}")
            )
        dq = float(_attr(res, "dq", "QCDark results")) * ALPHA * ME_EV  # eV
        de = float(_attr(res, "dE", "QCDark results"))
        vcell = float(_attr(res, "VCell", "QCDark results"))  # eV^-3
        mcell = float(_attr(res, "mCell", "QCDark results"))
        gap = float(_attr(res, "bandgap", "QCDark results"))
        scissor = bool(res.attrs.get("scissor", False))
        settings: dict[str, Any] = {}
        if "run_settings" in fh:
            rs = fh["run_settings"]
            settings = {k: _jsonable(v) for k, v in rs.attrs.items()}
            for k, ds in rs.items():
                settings[k] = _jsonable(ds[...])
        q0 = e0 = 0.0
        binning = settings.get("binning")
        if binning is not None and np.shape(binning) == (2, 3):
            _check_binning(f2.shape, binning)
            q0 = float(binning[0][0]) * ALPHA * ME_EV
            e0 = float(binning[1][0])
    n_q, n_e = f2.shape
    q_ev = q0 + dq * (np.arange(n_q) + 0.5)
    energy = e0 + de * (np.arange(n_e) + 0.5)
    name = material or _material_from_atoms(str(settings.get("atom", "")))
    metadata = {
        "settings": settings,
        "software": {"producer": "QCDark (asingal14/QCDark)"},
        "timings": {},
        "provenance": {
            "source_file": str(Path(path).name),
            "layout": "qcdark",
            "reference": "arXiv:2306.14944",
        },
    }
    return FormFactorTable(
        material=name,
        q=(q_ev / 1e3) * u.keV,
        energy=energy * u.eV,
        f2=f2,
        band_gap=gap * u.eV,
        cell_volume=vcell * (ALPHA * ME_EV) ** 3 * BOHR**3,
        cell_mass=mcell * u.eV,
        scissor_applied=scissor,
        metadata=metadata,
    )


# ------------------------------------------------------------------ ACIE v1


def _json_default(obj: Any) -> Any:
    val = _jsonable(obj)
    if val is obj:
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
    return val


def _software_versions() -> dict[str, str]:
    import h5py

    from acie import __version__

    return {"acie": __version__, "numpy": np.__version__, "h5py": h5py.__version__}


def write_acie(table: FormFactorTable, path: str | os.PathLike) -> Path:
    """Write ``table`` in the ACIE form-factor format v1, atomically.

    The file is written to a temporary file in the same folder and renamed into place,
    so a failure never leaves a half-written file at ``path``.

    Parameters
    ----------
    table : FormFactorTable
    path : path-like

    Returns
    -------
    Path
        The written path.
    """
    if not isinstance(table, FormFactorTable):
        raise DataFormatError(expected_got("table", "a FormFactorTable", type(table).__name__))
    h5py = _h5py()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(table.metadata)
    software = meta.pop("software", None) or _software_versions()
    settings = meta.pop("settings", {})
    timings = meta.pop("timings", {})
    created = meta.pop("created_utc", None) or datetime.now(UTC).isoformat(timespec="seconds")
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.attrs["format"] = ACIE_FORMAT
        fh.attrs["format_version"] = ACIE_FORMAT_VERSION
        fh.attrs["material"] = table.material
        fh.attrs["normalisation"] = _NORMALISATION
        fh.attrs["band_gap_eV"] = table.band_gap_eV
        fh.attrs["cell_volume_bohr3"] = table.cell_volume_bohr3
        fh.attrs["cell_mass_eV"] = table.cell_mass_eV
        fh.attrs["scissor_applied"] = table.scissor_applied
        for name, data, unit in (
            ("f2", table.f2, "dimensionless"),
            ("q", table.q_keV, "keV"),
            ("energy", table.energy_eV, "eV"),
        ):
            ds = fh.create_dataset(
                name,
                data=np.asarray(data, dtype=np.float64),
                compression="gzip",
                compression_opts=4,
            )
            ds.attrs["units"] = unit
        prov = fh.create_group("provenance")
        prov.attrs["settings_json"] = json.dumps(settings, default=_json_default, sort_keys=True)
        prov.attrs["software_json"] = json.dumps(software, default=_json_default, sort_keys=True)
        prov.attrs["timings_json"] = json.dumps(timings, default=_json_default, sort_keys=True)
        prov.attrs["created_utc"] = created
        prov.attrs["extra_json"] = json.dumps(meta, default=_json_default, sort_keys=True)
    return path


def _dataset(fh, name: str, units: str, ndim: int):
    if name not in fh or not hasattr(fh[name], "shape"):
        raise DataFormatError(
            expected_got("ACIE form-factor file", f"a dataset '/{name}'", sorted(fh.keys()))
        )
    ds = fh[name]
    got_units = ds.attrs.get("units")
    got_units = got_units.decode() if isinstance(got_units, bytes) else got_units
    if got_units != units:
        raise DataFormatError(expected_got(f"units attribute of '/{name}'", repr(units), got_units))
    if ds.ndim != ndim:
        raise DataFormatError(expected_got(f"'/{name}'", f"a {ndim}-D array", f"shape {ds.shape}"))
    return ds[...]


def read_acie(path: str | os.PathLike) -> FormFactorTable:
    """Read a form factor written in the ACIE format v1 (see :func:`write_acie`).

    Raises
    ------
    DataFormatError
        On a wrong format tag or version, a missing dataset or attribute, wrong units
        attributes or shapes.
    """
    with _open(path) as fh:
        fmt = _attr(fh, "format", "ACIE form-factor file")
        if fmt != ACIE_FORMAT:
            raise DataFormatError(expected_got("root attribute 'format'", repr(ACIE_FORMAT), fmt))
        version = int(_attr(fh, "format_version", "ACIE form-factor file"))
        if version != ACIE_FORMAT_VERSION:
            raise DataFormatError(expected_got("format_version", str(ACIE_FORMAT_VERSION), version))
        norm = _attr(fh, "normalisation", "ACIE form-factor file")
        if norm != _NORMALISATION:
            raise DataFormatError(expected_got("normalisation", repr(_NORMALISATION), norm))
        f2 = _dataset(fh, "f2", "dimensionless", 2)
        q = _dataset(fh, "q", "keV", 1)
        energy = _dataset(fh, "energy", "eV", 1)
        scalars = {
            k: float(_attr(fh, k, "ACIE form-factor file"))
            for k in ("band_gap_eV", "cell_volume_bohr3", "cell_mass_eV")
        }
        scissor = bool(_attr(fh, "scissor_applied", "ACIE form-factor file"))
        material = str(_attr(fh, "material", "ACIE form-factor file"))
        if "provenance" not in fh:
            raise DataFormatError(
                expected_got("ACIE form-factor file", "a group '/provenance'", sorted(fh.keys()))
            )
        prov = fh["provenance"]
        metadata: dict[str, Any] = {}
        try:
            for key in _PROVENANCE_KEYS:
                metadata[key] = json.loads(_attr(prov, f"{key}_json", "/provenance"))
            if "extra_json" in prov.attrs:
                metadata.update(json.loads(_attr(prov, "extra_json", "/provenance")))
        except json.JSONDecodeError as exc:
            raise DataFormatError(
                expected_got("provenance attributes", "valid JSON", str(exc))
            ) from None
        metadata["created_utc"] = str(_attr(prov, "created_utc", "/provenance"))
    return FormFactorTable(
        material=material,
        q=q * u.keV,
        energy=energy * u.eV,
        f2=f2,
        band_gap=scalars["band_gap_eV"] * u.eV,
        cell_volume=scalars["cell_volume_bohr3"] * BOHR**3,
        cell_mass=scalars["cell_mass_eV"] * u.eV,
        scissor_applied=scissor,
        metadata=metadata,
    )


def read_formfactor(path: str | os.PathLike) -> FormFactorTable:
    """Read a form-factor file in any supported layout (ACIE v1 or QCDark), sniffed.

    Raises
    ------
    DataFormatError
        If the file is not HDF5 or matches neither layout.
    """
    with _open(path) as fh:
        fmt = fh.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        is_qcdark = "results" in fh and "f2" in fh["results"]
        keys = sorted(fh.keys())
    if fmt == ACIE_FORMAT:
        return read_acie(path)
    if is_qcdark:
        return read_qcdark(path)
    raise DataFormatError(
        expected_got(
            f"form-factor file {str(path)!r}",
            f"the ACIE layout (format={ACIE_FORMAT!r}) or QCDark's (results/f2)",
            f"format={fmt!r}, top-level keys {keys}",
        )
    )
