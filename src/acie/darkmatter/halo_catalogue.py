"""The catalogue of Gaia-era halo parameter sets with uncertainties, for the halo Monte Carlo.

The sets live in ``data/halo_catalogue/halo_catalogue.json`` (provenance and the choices
made in ``data/halo_catalogue/REFERENCE.md``): the Baxter et al. (2021) SHM conventions,
SHM++ (Evans, O'Hare & McCabe 2019) with its uncertainties, measured escape speeds (Deason
et al. 2019, Monari et al. 2018), the circular speed and density of Eilers et al. (2019) and
the local-density ranges of de Salas & Widmark (2021), and the SHM with the S1 stream
(O'Hare et al. 2018, 2020; :mod:`acie.darkmatter.stream`). Each :class:`CatalogueEntry` gives its
central :class:`~acie.darkmatter.halo_parameters.HaloParameters` (Earth speed consistent with
its v0), its parameter distributions (``rvs(size, random_state)``) and seeded draws for
:func:`acie.darkmatter.halo_mc.electron_reach_draws`.

The module is longer than ~400 lines because the catalogue's file format (halo parameters,
their distributions and a stream with its own uncertainties) is parsed and validated here
next to the entry it builds, with a typed error for every malformed field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from acie.darkmatter.halo_parameters import HaloParameters, get_halo_parameters
from acie.darkmatter.stream import Stream
from acie.darkmatter.uncertainty import PARAMETER_UNITS, sample_halo_arrays
from acie.errors import AcieError, DataFormatError, UnknownNameError, expected_got

__all__ = [
    "CatalogueEntry",
    "Normal",
    "SplitNormal",
    "Uniform",
    "catalogue_names",
    "get_catalogue_entry",
    "load_catalogue",
]

_KINDS = ("normal", "split_normal", "uniform")


@dataclass(frozen=True)
class Normal:
    """Gaussian of ``mean`` and width ``sigma`` (a :class:`~acie.darkmatter.uncertainty.Distribution`)."""

    mean: float
    sigma: float

    def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
        """Draw ``size`` values from ``random_state``."""
        return self.mean + self.sigma * random_state.standard_normal(size)

    def std(self) -> float:
        """Standard deviation."""
        return self.sigma


@dataclass(frozen=True)
class SplitNormal:
    """Two half-Gaussians joined at ``mode``: width ``minus`` below, ``plus`` above.

    The probability of each side is proportional to its width (a continuous density).
    """

    mode: float
    minus: float
    plus: float

    def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
        """Draw ``size`` values from ``random_state``."""
        z = np.abs(random_state.standard_normal(size))
        up = random_state.random(size) < self.plus / (self.plus + self.minus)
        return np.where(up, self.mode + self.plus * z, self.mode - self.minus * z)

    def std(self) -> float:
        """Standard deviation of the split normal."""
        a, b = self.minus, self.plus
        return float(np.sqrt((1 - 2 / np.pi) * (b - a) ** 2 + a * b))


@dataclass(frozen=True)
class Uniform:
    """Uniform on [``low``, ``high``]."""

    low: float
    high: float

    def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
        """Draw ``size`` values from ``random_state``."""
        return random_state.uniform(self.low, self.high, size)

    def std(self) -> float:
        """Standard deviation, (high − low)/√12."""
        return (self.high - self.low) / np.sqrt(12.0)


Dist = Normal | SplitNormal | Uniform


@dataclass(frozen=True, kw_only=True)
class CatalogueEntry:
    """One catalogued halo parameter set.

    Attributes
    ----------
    name, model, base, citation, description : str
    values : dict of str to float
        Central values of the set's own parameters, in :data:`PARAMETER_UNITS`.
    distributions : dict of str to Normal, SplitNormal or Uniform
        The parameters with an uncertainty.
    inherited : tuple of str
        The parameters taken from the base set.
    stream : Stream or None
        A stream component; it is not part of :meth:`halo` and enters the Monte Carlo
        through :meth:`draws`.
    stream_fraction : Normal, SplitNormal, Uniform or None
        The uncertainty of the stream's fraction of ρ (drawn values clipped to [0, 1]).
    stream_velocity, stream_dispersion : tuple of three Normal, or None
        Per-component (U, V, W) uncertainties of the stream's mean velocity and of its
        dispersions, km/s, drawn independently per sample (dispersions truncated to > 0 by
        redrawing); ``None`` holds them at the catalogued values.
    """

    name: str
    model: str
    base: str
    citation: str
    description: str
    values: dict[str, float]
    distributions: dict[str, Dist] = field(default_factory=dict)
    inherited: tuple[str, ...] = ()
    stream: Stream | None = None
    stream_fraction: Dist | None = None
    stream_velocity: tuple[Normal, Normal, Normal] | None = None
    stream_dispersion: tuple[Normal, Normal, Normal] | None = None

    def stream_sources(self) -> tuple[str, ...]:
        """The stream parameters drawn with an uncertainty (keys of :meth:`draws`)."""
        if self.stream is None:
            return ()
        flags = {
            "stream_fraction": self.stream_fraction,
            "stream_v": self.stream_velocity,
            "stream_sigma": self.stream_dispersion,
        }
        return tuple(k for k, v in flags.items() if v is not None)

    def halo(self) -> HaloParameters:
        """The central parameter set; its Earth speed follows its v0."""
        from acie.darkmatter.halo_mc import consistent_earth_speed

        base = get_halo_parameters(self.base)
        changes: dict[str, Any] = {
            k: (v * PARAMETER_UNITS[k] if PARAMETER_UNITS[k] != u.one else float(v))
            for k, v in self.values.items()
        }
        if "v0" in self.values:
            ve = float(consistent_earth_speed(np.asarray(self.values["v0"]), base))
            changes["v_earth"] = ve * PARAMETER_UNITS["v_earth"]
        return base.with_values(
            name=self.name,
            version="catalogue-1",
            model=self.model,
            citation=self.citation,
            description=self.description,
            **changes,
        )

    def draws(self, n: int, *, seed: int = 0, only: tuple[str, ...] | None = None):
        """Seeded draws ``{v0, vesc, v_earth, rho, …}`` (arrays of ``n``), v_E following v0.

        ``only`` restricts the drawn parameters (the others stay central). A stream adds
        ``stream_fraction`` (n,), ``stream_v`` and ``stream_sigma`` (n, 3), each from its own
        generator (``[seed, 1]``, ``[seed, 2]``, ``[seed, 3]``), so the halo draws are the
        same with or without the stream and with or without its kinematic uncertainties.
        """
        dists = {k: d for k, d in self.distributions.items() if only is None or k in only}
        out = sample_halo_arrays(self.halo(), dists, n, seed=seed)
        if self.stream is None:
            return out
        s, want = self.stream, (lambda k: only is None or k in only)
        f = np.full(n, s.fraction)
        if self.stream_fraction is not None and want("stream_fraction"):
            rng = np.random.default_rng([seed, 1])
            f = np.clip(self.stream_fraction.rvs(n, rng), 0.0, 1.0)
        out["stream_fraction"] = f
        out["stream_v"] = np.tile(np.asarray(s.velocity, float), (n, 1))
        out["stream_sigma"] = np.tile(np.asarray(s.dispersion, float), (n, 1))
        if self.stream_velocity is not None and want("stream_v"):
            out["stream_v"] = _draw_vector(self.stream_velocity, n, [seed, 2], positive=False)
        if self.stream_dispersion is not None and want("stream_sigma"):
            out["stream_sigma"] = _draw_vector(self.stream_dispersion, n, [seed, 3], positive=True)
        return out

    def uncertainty_text(self) -> str:
        """One line: each parameter with its value, uncertainty and unit."""
        parts = []
        for k, v in self.values.items():
            unit = PARAMETER_UNITS[k]
            ut = f" {unit.to_string()}" if unit != u.one else ""
            d = self.distributions.get(k)
            if isinstance(d, SplitNormal):
                parts.append(f"{k} = {v:g} +{d.plus:g}/−{d.minus:g}{ut}")
            elif isinstance(d, Uniform):
                parts.append(f"{k} ∈ [{d.low:g}, {d.high:g}]{ut}")
            elif isinstance(d, Normal):
                parts.append(f"{k} = {v:g} ± {d.sigma:.3g}{ut}")
            else:
                parts.append(f"{k} = {v:g}{ut}")
        if self.inherited:
            parts.append(f"inherited from {self.base}: {', '.join(self.inherited)}")
        if self.stream is not None:
            s, d = self.stream, self.stream_fraction
            frac = f"fraction {s.fraction:g}"
            if isinstance(d, Uniform):
                frac = f"fraction ∈ [{d.low:g}, {d.high:g}]"
            elif isinstance(d, Normal):
                frac = f"fraction {s.fraction:g} ± {d.sigma:.3g}"
            vel = _vector_text(s.velocity, self.stream_velocity)
            disp = _vector_text(s.dispersion, self.stream_dispersion)
            parts.append(f"stream {s.name}: v = {vel} km/s, σ = {disp} km/s (U, V, W), {frac}")
        return "; ".join(parts)


def _vector_text(value: tuple[float, ...], dists: tuple[Normal, ...] | None) -> str:
    if dists is None:
        return str(tuple(value))
    return "(" + ", ".join(f"{x:g} ± {d.sigma:g}" for x, d in zip(value, dists, strict=True)) + ")"


def _draw_vector(dists: tuple[Normal, ...], n: int, seed: list[int], *, positive: bool):
    """(n, 3) draws, one Normal per component; ``positive`` redraws values ≤ 0."""
    rng = np.random.default_rng(seed)
    out = np.stack([d.rvs(n, rng) for d in dists], axis=1)
    for j, d in enumerate(dists):
        while positive and np.any(bad := out[:, j] <= 0):  # truncated normal by rejection
            out[bad, j] = d.rvs(int(bad.sum()), rng)
    return out


def _dist(name: str, value: float, spec: dict, where: str) -> Dist:
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise DataFormatError(
            expected_got(f"{where}: {name} uncertainty kind", f"one of {_KINDS}", kind)
        )
    try:
        if kind == "normal":
            sigma = float(spec["sigma"])
            sys = spec.get("systematic_fraction")
            if sys is not None:  # stated range: the upper end, in quadrature
                sigma = float(np.hypot(sigma, max(float(s) for s in sys) * value))
            return Normal(value, sigma)
        if kind == "split_normal":
            return SplitNormal(value, float(spec["minus"]), float(spec["plus"]))
        return Uniform(float(spec["low"]), float(spec["high"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(
            expected_got(f"{where}: {name} uncertainty", f"the fields of a {kind}", repr(exc))
        ) from None


def _entry(spec: dict, where: str) -> CatalogueEntry:
    try:
        name, base, model = str(spec["name"]), str(spec["base"]), str(spec["model"])
        params = spec["parameters"]
    except (KeyError, TypeError):
        raise DataFormatError(
            expected_got(where, "name, base, model and parameters in every set", spec)
        ) from None
    values: dict[str, float] = {}
    dists: dict[str, Dist] = {}
    for key, item in params.items():
        if key not in PARAMETER_UNITS:
            raise UnknownNameError(
                expected_got(f"{where}: {name} parameter", f"one of {sorted(PARAMETER_UNITS)}", key)
            )
        try:
            q = u.Quantity(float(item["value"]), u.Unit(item["unit"]) if item["unit"] else u.one)
            values[key] = float(q.to_value(PARAMETER_UNITS[key], u.mass_energy()))
        except (KeyError, TypeError, ValueError, u.UnitsError) as exc:
            raise DataFormatError(
                expected_got(f"{where}: {name}.{key}", '{"value": number, "unit": unit}', str(exc))
            ) from None
        if "uncertainty" in item:
            dists[key] = _dist(key, values[key], item["uncertainty"], f"{where}: {name}")
    inherited = tuple(k for k in ("v0", "vesc", "rho") if k not in values)
    stream, stream_fraction, stream_kin = _stream(spec.get("stream"), f"{where}: {name}")
    return CatalogueEntry(
        name=name,
        model=model,
        base=base,
        citation=str(spec.get("citation", "")),
        description=str(spec.get("description", "")),
        values=values,
        distributions=dists,
        inherited=inherited,
        stream=stream,
        stream_fraction=stream_fraction,
        stream_velocity=stream_kin["velocity"],
        stream_dispersion=stream_kin["dispersion"],
    )


def _stream(spec: Any, where: str) -> tuple[Stream | None, Dist | None, dict[str, Any]]:
    """The optional ``stream`` of a set: name, velocity, dispersion (km/s), fraction.

    ``velocity`` and ``dispersion`` may carry ``"uncertainty": {"kind": "normal",
    "sigma": [σ_U, σ_V, σ_W]}`` (in their unit), drawn per sample by
    :meth:`CatalogueEntry.draws`.
    """
    kin: dict[str, Any] = {"velocity": None, "dispersion": None}
    if spec is None:
        return None, None, kin
    want = '{"name", "velocity": {"value": [U, V, W], "unit"}, "dispersion": …, "fraction": …}'
    try:
        vec = {}
        for key in ("velocity", "dispersion"):
            unit = u.Unit(spec[key]["unit"])
            q = u.Quantity(spec[key]["value"], unit)
            vec[key] = tuple(float(x) for x in q.to_value(u.km / u.s))
            kin[key] = _vector_dists(spec[key].get("uncertainty"), vec[key], unit, where, key)
        frac = float(spec["fraction"]["value"])
        stream = Stream(
            name=str(spec["name"]),
            velocity=vec["velocity"],  # type: ignore[arg-type]
            dispersion=vec["dispersion"],  # type: ignore[arg-type]
            fraction=frac,
            citation=str(spec.get("citation", "")),
        )
    except (KeyError, TypeError, ValueError, u.UnitsError, AcieError) as exc:
        raise DataFormatError(expected_got(f"{where} stream", want, repr(exc))) from None
    unc = spec["fraction"].get("uncertainty")
    return stream, (None if unc is None else _dist("stream fraction", frac, unc, where)), kin


def _vector_dists(unc: Any, value: tuple[float, ...], unit, where: str, key: str):
    """Three Normals (km/s) from ``{"kind": "normal", "sigma": [3 numbers]}``, or None."""
    if unc is None:
        return None
    sig = unc.get("sigma") if isinstance(unc, dict) else None
    if not isinstance(sig, list) or len(sig) != 3 or unc.get("kind") != "normal":
        raise DataFormatError(
            expected_got(
                f"{where} stream {key} uncertainty",
                '{"kind": "normal", "sigma": [σ_U, σ_V, σ_W]}',
                unc,
            )
        )
    s = u.Quantity([float(x) for x in sig], unit).to_value(u.km / u.s)
    if not np.all(np.isfinite(s) & (s >= 0)):
        raise DataFormatError(expected_got(f"{where} stream {key} sigma", "finite, >= 0", sig))
    return tuple(Normal(m, float(w)) for m, w in zip(value, s, strict=True))


def load_catalogue(path: str | Path | None = None) -> dict[str, CatalogueEntry]:
    """All sets of a catalogue file (default: the shipped one), by name.

    Raises
    ------
    DataFormatError
        If the file is missing, not JSON, or a set lacks a field.
    """
    if path is None:
        return dict(_shipped())
    p = Path(path)
    if not p.is_file():
        raise DataFormatError(expected_got("halo catalogue", "an existing .json file", str(p)))
    try:
        spec = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            expected_got(f"halo catalogue {str(p)!r}", "JSON", str(exc))
        ) from None
    return _parse(spec, str(p))


def _parse(spec: Any, where: str) -> dict[str, CatalogueEntry]:
    if not isinstance(spec, dict) or not isinstance(spec.get("sets"), list):
        raise DataFormatError(expected_got(where, 'an object with a "sets" list', type(spec)))
    out = {}
    for s in spec["sets"]:
        e = _entry(s, where)
        out[e.name] = e
    return out


@lru_cache(maxsize=1)
def _shipped() -> dict[str, CatalogueEntry]:
    f = resources.files("acie.darkmatter") / "data" / "halo_catalogue" / "halo_catalogue.json"
    return _parse(json.loads(f.read_text()), "halo_catalogue.json")


def catalogue_names() -> list[str]:
    """Names of the shipped catalogue sets."""
    return list(_shipped())


def get_catalogue_entry(name: str) -> CatalogueEntry:
    """A shipped catalogue set by name.

    Raises
    ------
    UnknownNameError
        If ``name`` is not in the catalogue.
    """
    sets = _shipped()
    if name not in sets:
        raise UnknownNameError(expected_got("halo catalogue set", f"one of {list(sets)}", name))
    return sets[name]
