"""The physical property nodes of a galaxy, their units, validity ranges and causal graph.

This module is the public contract between the simulator (:mod:`acie.galaxy.simulator`),
the physics constraints (:mod:`acie.galaxy.constraints`) and the deep SCM
(:mod:`acie.deepscm`). Masses, star-formation rate, size and luminosity are carried in
``log10`` of the physical quantity ("dex"), the others linearly.

Property DAG (parents → child), each edge backed by a published relation::

    log_halo_mass ──► log_stellar_mass        (SHMR, Moster, Naab & White 2013)
    log_stellar_mass ──► log_gas_mass          (gas fraction, Peeples & Shankar 2011)
    log_stellar_mass, log_gas_mass ──► log_sfr (main sequence, Speagle et al. 2014;
                                               mass quenching, Peng et al. 2010)
    log_stellar_mass, log_sfr ──► metallicity  (FMR, Curti et al. 2020)
    log_stellar_mass, log_sfr ──► age          (exponential star-formation history)
    log_stellar_mass, log_sfr ──► log_size     (size–mass, van der Wel et al. 2014)
    log_stellar_mass, log_sfr ──► sersic_n     (disc ↔ spheroid with quiescence)
    log_stellar_mass, age, metallicity ──► log_luminosity   (mass-to-light ratio)
    log_halo_mass, log_stellar_mass, log_gas_mass, log_size, sersic_n
        ──► velocity_dispersion              (virial theorem, Cappellari et al. 2006)

Nuisances (axis ratio, position angle, PSF, redshift, pixel-noise seed) are exogenous
and act only on the image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from acie.errors import NonPhysicalValueError, OutOfRangeError, ShapeError, UnknownNodeError

__all__ = [
    "AGE_OF_UNIVERSE_GYR",
    "NUISANCE_NAMES",
    "NUISANCE_UNITS",
    "PARENTS",
    "PHYSICAL_DOMAIN",
    "PROPERTY_NAMES",
    "RANGES",
    "UNITS",
    "Interval",
    "as_quantities",
    "children",
    "descendants",
    "property_graph",
    "topological_order",
    "validate_values",
]

#: Age of the Universe today in Gyr, Planck 2018 (Planck Collaboration 2020, A&A 641, A6,
#: Table 2, TT,TE,EE+lowE+lensing+BAO: 13.787 ± 0.020 Gyr).
AGE_OF_UNIVERSE_GYR = 13.787

#: The physical property nodes, in a topological order of :data:`PARENTS`.
PROPERTY_NAMES: tuple[str, ...] = (
    "log_halo_mass",
    "log_stellar_mass",
    "log_gas_mass",
    "log_sfr",
    "metallicity",
    "age",
    "log_size",
    "sersic_n",
    "log_luminosity",
    "velocity_dispersion",
)

#: Image-level exogenous variables (no property depends on them).
NUISANCE_NAMES: tuple[str, ...] = (
    "axis_ratio",
    "position_angle",
    "psf_fwhm",
    "redshift",
    "noise_seed",
)

#: Units of each property, as strings astropy understands (``u.Unit(...)``).
UNITS: dict[str, str] = {
    "log_halo_mass": "dex(solMass)",  # log10 M_200c / M_sun
    "log_stellar_mass": "dex(solMass)",  # log10 M_* / M_sun (Chabrier-like IMF)
    "log_gas_mass": "dex(solMass)",  # log10 M_gas / M_sun (cold gas, HI + H2, incl. helium)
    "log_sfr": "dex(solMass / yr)",  # log10 SFR / (M_sun / yr)
    "metallicity": "",  # 12 + log10(O/H), gas phase, T_e scale
    "age": "Gyr",  # mass-weighted stellar age
    "log_size": "dex(kpc)",  # log10 circularised half-light radius / kpc
    "sersic_n": "",  # Sérsic index
    "log_luminosity": "dex(solLum)",  # log10 L_r / L_sun,r (SDSS r band, AB)
    "velocity_dispersion": "km / s",  # luminosity-weighted sigma within R_e
}

NUISANCE_UNITS: dict[str, str] = {
    "axis_ratio": "",  # b/a of the projected light distribution
    "position_angle": "rad",  # of the major axis, counter-clockwise from +x (image columns)
    "psf_fwhm": "arcsec",  # FWHM of the Gaussian PSF
    "redshift": "",  # cosmological redshift (Planck 2018 cosmology)
    "noise_seed": "",  # integer seed of the pixel noise
}

#: Parents of every property node (the causal graph of the simulator).
PARENTS: dict[str, tuple[str, ...]] = {
    "log_halo_mass": (),
    "log_stellar_mass": ("log_halo_mass",),
    "log_gas_mass": ("log_stellar_mass",),
    "log_sfr": ("log_stellar_mass", "log_gas_mass"),
    "metallicity": ("log_stellar_mass", "log_sfr"),
    "age": ("log_stellar_mass", "log_sfr"),
    "log_size": ("log_stellar_mass", "log_sfr"),
    "sersic_n": ("log_stellar_mass", "log_sfr"),
    "log_luminosity": ("log_stellar_mass", "age", "metallicity"),
    "velocity_dispersion": (
        "log_halo_mass",
        "log_stellar_mass",
        "log_gas_mass",
        "log_size",
        "sersic_n",
    ),
}


@dataclass(frozen=True)
class Interval:
    """A closed or open interval ``[low, high]`` (``open_low`` excludes ``low``)."""

    low: float
    high: float
    open_low: bool = False

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Elementwise whether ``x`` (in the property's unit) lies in the interval."""
        lo = x > self.low if self.open_low else x >= self.low
        return lo & (x <= self.high)

    def __str__(self) -> str:
        return f"{'(' if self.open_low else '['}{self.low:g}, {self.high:g}]"


#: Hard physical domain: values outside are impossible, not merely unusual
#: (they raise :class:`~acie.errors.NonPhysicalValueError`). Log quantities are the log of
#: a positive number, so any finite value is allowed; linear ones must be positive, an
#: age cannot exceed the age of the Universe, an axis ratio lies in (0, 1].
PHYSICAL_DOMAIN: dict[str, Interval] = {
    "log_halo_mass": Interval(-np.inf, np.inf),
    "log_stellar_mass": Interval(-np.inf, np.inf),
    "log_gas_mass": Interval(-np.inf, np.inf),
    "log_sfr": Interval(-np.inf, np.inf),
    "metallicity": Interval(0.0, 12.0, open_low=True),  # O/H <= 1 (pure oxygen) bound
    "age": Interval(0.0, AGE_OF_UNIVERSE_GYR, open_low=True),
    "log_size": Interval(-np.inf, np.inf),
    "sersic_n": Interval(0.0, np.inf, open_low=True),
    "log_luminosity": Interval(-np.inf, np.inf),
    "velocity_dispersion": Interval(0.0, np.inf, open_low=True),
}

#: Validity ranges: where the simulator's relations are calibrated and the renderer is
#: accurate. Values outside raise :class:`~acie.errors.OutOfRangeError`.
RANGES: dict[str, Interval] = {
    "log_halo_mass": Interval(10.0, 15.0),
    "log_stellar_mass": Interval(7.0, 12.5),
    "log_gas_mass": Interval(6.0, 12.0),
    "log_sfr": Interval(-5.0, 3.0),
    "metallicity": Interval(7.0, 9.5),
    "age": Interval(0.05, AGE_OF_UNIVERSE_GYR),
    "log_size": Interval(-1.0, 2.0),
    "sersic_n": Interval(0.3, 6.2),  # GalSim Sersic range, also the renderer's
    "log_luminosity": Interval(6.0, 12.5),
    "velocity_dispersion": Interval(5.0, 1000.0),
}

_LINEAR_MASS_UNITS = {
    "log_halo_mass": "solMass",
    "log_stellar_mass": "solMass",
    "log_gas_mass": "solMass",
    "log_sfr": "solMass / yr",
    "log_size": "kpc",
    "log_luminosity": "solLum",
}


def property_graph():
    """The property DAG as a :class:`networkx.DiGraph` (edge parent → child).

    Node attributes: ``unit`` (string) and ``parents`` (tuple, in mechanism order).
    """
    import networkx as nx

    g = nx.DiGraph()
    for name in PROPERTY_NAMES:
        g.add_node(name, unit=UNITS[name], parents=PARENTS[name])
    for child, parents in PARENTS.items():
        for parent in parents:
            g.add_edge(parent, child)
    return g


def _known(name: str) -> None:
    if name not in PARENTS:
        raise UnknownNodeError(name, list(PROPERTY_NAMES))


def children(name: str) -> tuple[str, ...]:
    """Direct children of a property node, in :data:`PROPERTY_NAMES` order."""
    _known(name)
    return tuple(c for c in PROPERTY_NAMES if name in PARENTS[c])


def descendants(names: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """All proper descendants of one or more nodes, in :data:`PROPERTY_NAMES` order."""
    names = (names,) if isinstance(names, str) else tuple(names)
    for n in names:
        _known(n)
    out: set[str] = set()
    frontier = list(names)
    while frontier:
        for c in children(frontier.pop()):
            if c not in out:
                out.add(c)
                frontier.append(c)
    return tuple(n for n in PROPERTY_NAMES if n in out and n not in names)


def topological_order() -> tuple[str, ...]:
    """The node order in which mechanisms are evaluated (parents before children)."""
    return PROPERTY_NAMES


def validate_values(
    name: str, values, *, n: int | None = None, check_range: bool = True
) -> np.ndarray:
    """Check intervention or property values for one node and return them as float64.

    Parameters
    ----------
    name : str
        A property node (one of :data:`PROPERTY_NAMES`).
    values : float, array-like or astropy Quantity
        In the node's unit (:data:`UNITS`). For ``log_*`` nodes a Quantity in the
        *linear* unit (e.g. ``2e10 * u.M_sun``) is accepted and converted to log10;
        a non-positive linear value is non-physical.
    n : int, optional
        Batch size: a scalar is broadcast to ``(n,)``; an array must have shape ``(n,)``.
    check_range : bool
        Also require the validity range :data:`RANGES` (else only the physical domain).

    Raises
    ------
    UnknownNodeError
        ``name`` is not a property.
    ShapeError
        ``values`` is not a scalar or of shape ``(n,)``.
    NonPhysicalValueError
        NaN, infinite, negative mass, ``sersic_n <= 0``, age outside (0, age of Universe]…
    OutOfRangeError
        Outside the calibrated range :data:`RANGES`.
    """
    _known(name)
    values = _strip_units(name, values)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim > 1 or (arr.ndim == 1 and n is not None and arr.shape[0] != n):
        expected = f"a scalar or an array of shape ({n},)" if n is not None else "a scalar or 1-D"
        raise ShapeError(f"values for {name!r} must be {expected}; got shape {arr.shape}")
    if n is not None:
        arr = np.broadcast_to(arr, (n,)).copy()
    bad = ~np.isfinite(arr)
    if bad.any():
        raise NonPhysicalValueError(
            f"values for {name!r} must be finite numbers; got {arr[bad][:3].tolist()}"
        )
    dom = PHYSICAL_DOMAIN[name]
    inside = dom.contains(arr)
    if not inside.all():
        raise NonPhysicalValueError(
            f"{name} must lie in its physical domain {dom} [{UNITS[name] or 'dimensionless'}]; "
            f"got {arr[~inside][:3].tolist()}"
        )
    if check_range:
        rng = RANGES[name]
        inside = rng.contains(arr)
        if not inside.all():
            raise OutOfRangeError(
                f"{name} must lie in the simulator's validity range {rng} "
                f"[{UNITS[name] or 'dimensionless'}]; got {arr[~inside][:3].tolist()}"
            )
    return arr


def _strip_units(name: str, values):
    """Accept astropy Quantities in the node's unit, or linear units for ``log_*`` nodes."""
    from astropy import units as u

    if not isinstance(values, u.Quantity):
        return values
    if name in _LINEAR_MASS_UNITS and not isinstance(values.unit, u.FunctionUnitBase):
        linear_unit = u.Unit(_LINEAR_MASS_UNITS[name])
        try:
            lin = values.to_value(linear_unit)
        except u.UnitConversionError as exc:
            raise NonPhysicalValueError(
                f"{name} needs a quantity in {linear_unit} (or {UNITS[name]}); got {values.unit}"
            ) from exc
        lin = np.asarray(lin, dtype=np.float64)
        if (lin <= 0).any():
            raise NonPhysicalValueError(
                f"{name.removeprefix('log_')} must be > 0 {linear_unit}; "
                f"got {lin[lin <= 0][:3].tolist() if lin.ndim else float(lin)}"
            )
        return np.log10(lin)
    unit = u.Unit(UNITS[name]) if UNITS[name] else u.dimensionless_unscaled
    try:
        return values.to_value(unit)
    except u.UnitConversionError as exc:
        raise NonPhysicalValueError(
            f"{name} needs a quantity in {unit}; got {values.unit}"
        ) from exc


def as_quantities(props: Mapping[str, np.ndarray]) -> dict:
    """Attach astropy units to a properties (or nuisances) dict (log nodes become ``dex``)."""
    from astropy import units as u

    out = {}
    for k, v in props.items():
        unit = UNITS.get(k, NUISANCE_UNITS.get(k))
        if unit is None:
            raise UnknownNodeError(k, list(PROPERTY_NAMES) + list(NUISANCE_NAMES))
        out[k] = np.asarray(v) * (u.Unit(unit) if unit else u.dimensionless_unscaled)
    return out
