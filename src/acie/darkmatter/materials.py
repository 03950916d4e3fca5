"""The detector-materials library: crystal structure, gap, pair energy and Fano factor.

Each :class:`Material` is an immutable record whose every number carries a citation in
:attr:`Material.references` (value name -> reference). Numbers that are model estimates
rather than measurements are listed in :attr:`Material.estimates` and say so in their
reference text.

Units are fixed by the field names and documented per field: lengths in Å, densities in
g/cm³, energies in eV, masses in atomic mass units (u). :meth:`Material.quantity` returns
any of them as an astropy Quantity.

Structures
----------
``diamond`` and ``zincblende`` (Si, Ge, GaAs) and ``rocksalt`` (NaI) are face-centred cubic
with a two-atom basis; ``cesium-chloride`` (CsI) is simple cubic with a two-atom basis.
Basis positions are Cartesian, in units of the cubic lattice constant ``a``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from acie.errors import UnknownNameError, expected_got

__all__ = ["STRUCTURES", "Element", "Material", "get_material", "list_materials"]

#: Crystal structures the library knows, with their Bravais lattice.
STRUCTURES: Mapping[str, str] = MappingProxyType(
    {
        "diamond": "fcc",
        "zincblende": "fcc",
        "rocksalt": "fcc",
        "cesium-chloride": "simple cubic",
    }
)

_AVOGADRO = 6.02214076e23  # 1/mol, exact (SI 2019)
_ANGSTROM_CM = 1e-8

# Standard atomic weights: CIAAW/IUPAC, "Standard atomic weights of the elements 2021",
# Pure Appl. Chem. 94, 573 (2022) (abridged / conventional values).
_CIAAW = "CIAAW 2021 standard atomic weights, Prohaska et al., Pure Appl. Chem. 94, 573 (2022)"


@dataclass(frozen=True, kw_only=True)
class Element:
    """One chemical element of a target.

    Attributes
    ----------
    symbol : str
        Chemical symbol.
    Z : int
        Atomic number.
    mass : float ['mass'], u
        Standard atomic weight in unified atomic mass units.
    """

    symbol: str
    Z: int
    mass: float


_ELEMENTS = {
    "Si": Element(symbol="Si", Z=14, mass=28.085),
    "Ge": Element(symbol="Ge", Z=32, mass=72.630),
    "Ga": Element(symbol="Ga", Z=31, mass=69.723),
    "As": Element(symbol="As", Z=33, mass=74.921595),
    "Na": Element(symbol="Na", Z=11, mass=22.98976928),
    "I": Element(symbol="I", Z=53, mass=126.90447),
    "Cs": Element(symbol="Cs", Z=55, mass=132.90545196),
}


@dataclass(frozen=True, kw_only=True)
class Material:
    """A crystalline detector target.

    Attributes
    ----------
    name : str
        Short name used for lookup (``"Si"``, ``"GaAs"``…).
    formula : str
        Chemical formula.
    structure : str
        One of :data:`STRUCTURES`.
    lattice_constant : float ['length'], Å
        Cubic (conventional) lattice constant, room temperature unless stated.
    density : float ['mass density'], g/cm³
        Measured mass density.
    band_gap : float ['energy'], eV
        Experimental band gap (the scissor target for DFT form factors).
    pair_energy : float ['energy'], eV
        Mean energy per electron–hole pair ε (ionisation model ``ne = 1 + floor((E - gap)/ε)``).
    fano : float
        Fano factor of the pair-number distribution (dimensionless).
    basis : tuple of (str, (float, float, float))
        Atoms of the primitive cell: symbol and Cartesian position in units of ``a``.
    elements : mapping of str to Element
        Atomic data (Z, mass) for every symbol in ``basis``.
    references : mapping of str to str
        Citation for every value (keys: the field names above, plus ``"elements"``).
    estimates : frozenset of str
        Names of the values that are estimates rather than measurements.
    """

    name: str
    formula: str
    structure: str
    lattice_constant: float
    density: float
    band_gap: float
    pair_energy: float
    fano: float
    basis: tuple[tuple[str, tuple[float, float, float]], ...]
    references: Mapping[str, str]
    estimates: frozenset[str] = frozenset()
    elements: Mapping[str, Element] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.structure not in STRUCTURES:
            raise UnknownNameError(
                expected_got("structure", f"one of {sorted(STRUCTURES)}", self.structure)
            )
        if not self.elements:
            object.__setattr__(
                self, "elements", MappingProxyType({sym: _ELEMENTS[sym] for sym, _ in self.basis})
            )
        object.__setattr__(self, "references", MappingProxyType(dict(self.references)))

    # -- geometry -------------------------------------------------------------------------
    def lattice_vectors(self) -> np.ndarray:
        """Primitive lattice vectors (rows), in Å, shape (3, 3)."""
        a = self.lattice_constant
        if STRUCTURES[self.structure] == "fcc":
            return 0.5 * a * np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
        return a * np.eye(3)

    def atom_positions(self) -> list[tuple[str, np.ndarray]]:
        """Atoms of the primitive cell as (symbol, Cartesian position in Å)."""
        return [
            (sym, self.lattice_constant * np.asarray(pos, dtype=float)) for sym, pos in self.basis
        ]

    @property
    def cell_volume(self) -> float:
        """Primitive-cell volume in Å³."""
        return float(abs(np.linalg.det(self.lattice_vectors())))

    @property
    def cell_mass(self) -> float:
        """Mass of the primitive cell in u."""
        return float(sum(self.elements[sym].mass for sym, _ in self.basis))

    def density_from_lattice(self) -> float:
        """Density in g/cm³ implied by the lattice constant and atomic weights.

        An independent cross-check of :attr:`density` (X-ray density).
        """
        grams = self.cell_mass / _AVOGADRO
        return grams / (self.cell_volume * _ANGSTROM_CM**3)

    def quantity(self, name: str):
        """Return the value ``name`` as an astropy Quantity with its unit.

        Raises
        ------
        UnknownNameError
            If ``name`` is not a numeric field.
        """
        import astropy.units as u

        units = {
            "lattice_constant": u.AA,
            "density": u.g / u.cm**3,
            "band_gap": u.eV,
            "pair_energy": u.eV,
            "fano": u.dimensionless_unscaled,
            "cell_volume": u.AA**3,
            "cell_mass": u.u,
        }
        if name not in units:
            raise UnknownNameError(expected_got("quantity name", f"one of {sorted(units)}", name))
        return getattr(self, name) * units[name]


_FCC2 = ((0.0, 0.0, 0.0), (0.25, 0.25, 0.25))
_MADELUNG = "O. Madelung, Semiconductors: Data Handbook, 3rd ed., Springer (2004)"
_TEEGARDEN = (
    "K. Teegarden and G. Baldini, 'Optical absorption spectra of the alkali "
    "halides at 10 K', Phys. Rev. 155, 896 (1967)"
)
_CRC = "CRC Handbook of Chemistry and Physics, 97th ed. (2016), 'Physical constants of inorganic compounds'"
_WYCKOFF = "R. W. G. Wyckoff, Crystal Structures, vol. 1, 2nd ed., Interscience (1963)"
_KLEIN = (
    "ESTIMATE: Klein's empirical rule eps = 2.8*E_gap + 0.5 eV, C. A. Klein, J. Appl. Phys. "
    "39, 2029 (1968); no direct measurement of the e-h pair energy in this crystal is used"
)
_KLEIN_F = (
    "ESTIMATE: Klein's phonon-loss model gives F ~ 0.1-0.2 for semiconductors and "
    "insulators (C. A. Klein, J. Appl. Phys. 39, 2029 (1968)); central value 0.15 "
    "adopted, not measured for this crystal"
)

_LIBRARY: dict[str, Material] = {
    m.name.lower(): m
    for m in (
        Material(
            name="Si",
            formula="Si",
            structure="diamond",
            lattice_constant=5.431,
            density=2.329,
            band_gap=1.12,
            pair_energy=3.749,
            fano=0.119,
            basis=(("Si", _FCC2[0]), ("Si", _FCC2[1])),
            references={
                "lattice_constant": "Y. Okada and Y. Tokumaru, J. Appl. Phys. 56, 314 (1984) (5.4310 Å, 300 K)",
                "density": _MADELUNG,
                "band_gap": _MADELUNG + " (indirect gap 1.12 eV at 300 K)",
                "pair_energy": "D. Rodrigues et al. (Skipper-CCD), Nucl. Instrum. Meth. A 1010, 165511 (2021), arXiv:2004.11499 (3.749 eV)",
                "fano": "D. Rodrigues et al., Nucl. Instrum. Meth. A 1010, 165511 (2021), arXiv:2004.11499 (F = 0.119)",
                "structure": _WYCKOFF,
                "elements": _CIAAW,
            },
        ),
        Material(
            name="Ge",
            formula="Ge",
            structure="diamond",
            lattice_constant=5.658,
            density=5.323,
            band_gap=0.67,
            pair_energy=2.96,
            fano=0.112,
            basis=(("Ge", _FCC2[0]), ("Ge", _FCC2[1])),
            references={
                "lattice_constant": _MADELUNG + " (5.658 Å, 300 K)",
                "density": _MADELUNG,
                "band_gap": _MADELUNG
                + " (indirect gap 0.67 eV at 300 K; the gap QCDark scissors to)",
                "pair_energy": "G. F. Knoll, Radiation Detection and Measurement, 4th ed., Wiley (2010), Table 12.1 (2.96 eV at 77 K)",
                "fano": "G. F. Knoll, Radiation Detection and Measurement, 4th ed. (2010), ch. 12 (measured F ~ 0.08-0.13; 0.112 adopted)",
                "structure": _WYCKOFF,
                "elements": _CIAAW,
            },
        ),
        Material(
            name="GaAs",
            formula="GaAs",
            structure="zincblende",
            lattice_constant=5.6533,
            density=5.3176,
            band_gap=1.42,
            pair_energy=4.184,
            fano=0.12,
            basis=(("Ga", _FCC2[0]), ("As", _FCC2[1])),
            references={
                "lattice_constant": _MADELUNG + " (5.6533 Å, 300 K)",
                "density": _MADELUNG,
                "band_gap": _MADELUNG + " (direct gap 1.42 eV at 300 K)",
                "pair_energy": "G. Bertuccio and D. Maiocchi, J. Appl. Phys. 92, 1248 (2002) (4.184 eV, room temperature)",
                "fano": "ESTIMATE: F = 0.12 from X-ray spectroscopy with GaAs diodes, reviewed in A. Owens, Compound Semiconductor Radiation Detectors, CRC Press (2012); not a precision measurement",
                "structure": _WYCKOFF,
                "elements": _CIAAW,
            },
            estimates=frozenset({"fano"}),
        ),
        Material(
            name="NaI",
            formula="NaI",
            structure="rocksalt",
            lattice_constant=6.4728,
            density=3.667,
            band_gap=5.9,
            pair_energy=round(2.8 * 5.9 + 0.5, 3),
            fano=0.15,
            basis=(("Na", (0.0, 0.0, 0.0)), ("I", (0.5, 0.5, 0.5))),
            references={
                "lattice_constant": _WYCKOFF + " (6.4728 Å)",
                "density": _CRC,
                "band_gap": _TEEGARDEN + " (5.9 eV)",
                "pair_energy": _KLEIN,
                "fano": _KLEIN_F,
                "structure": _WYCKOFF,
                "elements": _CIAAW,
            },
            estimates=frozenset({"pair_energy", "fano"}),
        ),
        Material(
            name="CsI",
            formula="CsI",
            structure="cesium-chloride",
            lattice_constant=4.5667,
            density=4.51,
            band_gap=6.2,
            pair_energy=round(2.8 * 6.2 + 0.5, 3),
            fano=0.15,
            basis=(("Cs", (0.0, 0.0, 0.0)), ("I", (0.5, 0.5, 0.5))),
            references={
                "lattice_constant": _WYCKOFF + " (4.5667 Å)",
                "density": _CRC,
                "band_gap": _TEEGARDEN + " (6.2 eV)",
                "pair_energy": _KLEIN,
                "fano": _KLEIN_F,
                "structure": _WYCKOFF,
                "elements": _CIAAW,
            },
            estimates=frozenset({"pair_energy", "fano"}),
        ),
    )
}


def list_materials() -> list[str]:
    """Names of the materials in the library, in a fixed order."""
    return [m.name for m in _LIBRARY.values()]


def get_material(name: str | Material) -> Material:
    """Look a material up by name (case-insensitive); a Material is returned unchanged.

    Raises
    ------
    UnknownNameError
        If the name is not in the library; the message lists the known names.
    """
    if isinstance(name, Material):
        return name
    try:
        return _LIBRARY[str(name).strip().lower()]
    except KeyError:
        raise UnknownNameError(
            f"unknown material {name!r}; known materials are: {', '.join(list_materials())}"
        ) from None
