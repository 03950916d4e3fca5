"""Local dark-matter halo parameters: :class:`HaloParameters` and the cited parameter sets.

A parameter set holds v0, v_esc, ρ, the mean Earth speed, the solar peculiar velocity and,
for SHM++, the sausage anisotropy β and fraction, each with units and validated on
construction. The built-in sets are JSON files in ``data/halo/`` (cited in
``data/halo/REFERENCE.md``): ``baxter2021`` (the default), ``qedark2016``,
``lewin-smith1996``, ``shmpp2019``. The velocity distributions that use them are in
:mod:`acie.darkmatter.halo`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from acie.darkmatter.units import as_positive, as_value
from acie.errors import DataFormatError, NonPhysicalValueError, UnknownNameError, expected_got

__all__ = [
    "HaloParameters",
    "available_halo_parameters",
    "get_halo_parameters",
    "load_halo_parameters",
    "resolve_halo",
]

KMS = u.km / u.s
GEV_CM3 = u.GeV / u.cm**3


@dataclass(frozen=True, kw_only=True)
class HaloParameters:
    """A named, cited set of local dark-matter halo parameters.

    Parameters
    ----------
    name, version, citation, description : str
    v0 : Quantity ['speed']
        Most probable speed of the round (SHM) component, also the LSR speed.
    vesc : Quantity ['speed']
        Galactic escape speed.
    rho : Quantity ['mass density'] (energy/volume accepted)
        Local dark-matter density, GeV/cm³.
    v_earth : Quantity ['speed']
        Time-averaged Earth speed in the Galactic frame (time-independent rates).
    v_sun_peculiar : Quantity ['speed'], shape (3,)
        Solar peculiar velocity (U, V, W).
    model : {"shm", "shm++"}
    beta : float
        Anisotropy of the sausage component (SHM++ only).
    sausage_fraction : float
        Fraction η of dark matter in the sausage (SHM++ only).
    """

    name: str
    v0: u.Quantity
    vesc: u.Quantity
    rho: u.Quantity
    v_earth: u.Quantity
    v_sun_peculiar: u.Quantity = field(default_factory=lambda: [11.1, 12.24, 7.25] * KMS)
    model: str = "shm"
    beta: float = 0.0
    sausage_fraction: float = 0.0
    version: str = "user"
    citation: str = "user-supplied"
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("v0", "vesc", "v_earth"):
            val = as_positive(getattr(self, name), KMS, f"halo parameter {name}")
            object.__setattr__(self, name, val * KMS)
        # as_value uses the mass-energy equivalency, so kg/m³ or Msun/pc³ are accepted too
        object.__setattr__(
            self, "rho", as_positive(self.rho, GEV_CM3, "halo parameter rho") * GEV_CM3
        )
        pec = as_value(self.v_sun_peculiar, KMS, "halo parameter v_sun_peculiar")
        if np.shape(pec) != (3,):
            raise DataFormatError(expected_got("v_sun_peculiar", "a 3-vector (U, V, W)", pec))
        object.__setattr__(self, "v_sun_peculiar", np.asarray(pec) * KMS)
        if self.model not in ("shm", "shm++"):
            raise UnknownNameError(expected_got("halo model", "'shm' or 'shm++'", self.model))
        if not 0.0 <= float(self.sausage_fraction) <= 1.0:
            raise NonPhysicalValueError(
                expected_got("sausage_fraction", "in [0, 1]", self.sausage_fraction)
            )
        if not -10.0 < float(self.beta) < 1.0:
            raise NonPhysicalValueError(expected_got("beta (anisotropy)", "in (-10, 1)", self.beta))
        if self.vesc <= 0 * KMS:
            raise NonPhysicalValueError(expected_got("vesc", "> 0", self.vesc))

    def with_values(self, **changes: Any) -> HaloParameters:
        """A copy with some values changed (named ``"<name>+user"``)."""
        changes.setdefault("name", f"{self.name}+user")
        changes.setdefault("version", "user")
        return replace(self, **changes)

    @property
    def v_sun(self) -> u.Quantity:
        """Solar velocity in the Galactic frame: (0, v0, 0) + peculiar, km/s."""
        return self.v_sun_peculiar + [0.0, 1.0, 0.0] * self.v0


def _parse(spec: dict, source: str) -> HaloParameters:
    def q(key: str, default: Any = None):
        if key not in spec:
            if default is not None:
                return default
            raise DataFormatError(
                expected_got(f"halo parameter file {source}", f"a key {key!r}", sorted(spec))
            )
        item = spec[key]
        if not isinstance(item, dict) or "value" not in item or "unit" not in item:
            raise DataFormatError(
                expected_got(f"{key} in {source}", '{"value": …, "unit": …}', item)
            )
        try:
            val = np.asarray(item["value"], dtype=float) * u.Unit(item["unit"])
        except (ValueError, TypeError) as exc:
            raise DataFormatError(
                expected_got(f"{key} in {source}", "a number with a valid unit", str(exc))
            ) from None
        return val

    def scalar(key: str) -> float:
        return float(
            q(key, default=0.0 * u.dimensionless_unscaled).to_value(u.dimensionless_unscaled)
        )

    return HaloParameters(
        name=str(spec.get("name", Path(source).stem)),
        version=str(spec.get("version", "user")),
        citation=str(spec.get("citation", "user-supplied")),
        description=str(spec.get("description", "")),
        model=str(spec.get("model", "shm")),
        v0=q("v0"),
        vesc=q("vesc"),
        rho=q("rho"),
        v_earth=q("v_earth"),
        v_sun_peculiar=q("v_sun_peculiar", default=[11.1, 12.24, 7.25] * KMS),
        beta=scalar("beta"),
        sausage_fraction=scalar("sausage_fraction"),
    )


def load_halo_parameters(path: str | Path) -> HaloParameters:
    """Load a parameter set from a JSON file (layout as in ``data/halo/*.json``)."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(
            expected_got("halo parameter file", "an existing .json file", str(path))
        )
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            expected_got(f"halo parameter file {str(path)!r}", "valid JSON", str(exc))
        ) from None
    if not isinstance(spec, dict):
        raise DataFormatError(
            expected_got(f"halo parameter file {str(path)!r}", "a JSON object", type(spec).__name__)
        )
    return _parse(spec, str(path))


@lru_cache(maxsize=1)
def _builtin() -> dict[str, HaloParameters]:
    folder = resources.files("acie.darkmatter") / "data" / "halo"
    out = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json"):
            params = _parse(json.loads(item.read_text()), item.name)
            out[params.name] = params
    return out


def available_halo_parameters() -> list[str]:
    """Names of the built-in parameter sets."""
    return sorted(_builtin())


def get_halo_parameters(name: str) -> HaloParameters:
    """A built-in parameter set by name (``"baxter2021"``, ``"qedark2016"``, …).

    Raises
    ------
    UnknownNameError
        If ``name`` is not a built-in set.
    """
    sets = _builtin()
    if name not in sets:
        raise UnknownNameError(expected_got("halo parameter set", f"one of {sorted(sets)}", name))
    return sets[name]


def resolve_halo(halo: HaloParameters | str | Path | None) -> HaloParameters:
    """Accept a :class:`HaloParameters`, a built-in name, a JSON path, or None (baxter2021)."""
    if halo is None:
        return get_halo_parameters("baxter2021")
    if isinstance(halo, HaloParameters):
        return halo
    if isinstance(halo, Path) or (isinstance(halo, str) and halo.endswith(".json")):
        return load_halo_parameters(halo)
    if isinstance(halo, str):
        return get_halo_parameters(halo)
    raise UnknownNameError(expected_got("halo", "HaloParameters, a set name or a .json path", halo))
