"""Nuclear targets for WIMP–nucleus scattering: elements as natural isotope mixtures, compounds.

Elements (Xe, Ar, Ge, Si, Na, I, Cs, F, Al, C) carry their natural isotopes — mass number A, atomic
mass and abundance — and compounds (NaI, CsI, C3F8) their elements by mass fraction; the rate
code in :mod:`acie.darkmatter.nuclear` sums over them.

References
----------
* Isotopic masses and abundances: J. S. Coursey et al., NIST "Atomic Weights and Isotopic
  Compositions" (NIST Standard Reference Database 144), representative IUPAC abundances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acie.darkmatter.units import AMU_EV
from acie.errors import UnknownNameError, expected_got

__all__ = ["TARGETS", "Isotope", "Target", "get_target"]


@dataclass(frozen=True)
class Isotope:
    """One isotope: mass number ``A``, atomic mass (u) and abundance (atom fraction)."""

    A: int
    mass_u: float
    abundance: float


@dataclass(frozen=True, kw_only=True)
class Target:
    """A detector target: elements (each a tuple of isotopes) with mass fractions."""

    name: str
    elements: tuple[tuple[str, tuple[Isotope, ...], float], ...]

    def nuclei(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(A, m_N in eV, mass-fraction weight) of every isotope, flattened."""
        a, m, w = [], [], []
        for _, isotopes, mass_fraction in self.elements:
            atom_total = sum(i.abundance for i in isotopes)
            mean_mass = sum(i.abundance * i.mass_u for i in isotopes) / atom_total
            for iso in isotopes:
                a.append(iso.A)
                m.append(iso.mass_u * AMU_EV)
                # weight = mass fraction of this isotope in the element x element mass fraction
                w.append(mass_fraction * iso.abundance * iso.mass_u / (atom_total * mean_mass))
        return np.array(a, float), np.array(m, float), np.array(w, float)


def _element(
    symbol: str, isotopes: list[tuple[int, float, float]]
) -> tuple[str, tuple[Isotope, ...]]:
    return symbol, tuple(Isotope(a, m, f) for a, m, f in isotopes)


# NIST SRD 144 isotopic compositions (A, atomic mass in u, atom fraction)
_ELEMENTS = dict(
    [
        _element(
            "Xe",
            [
                (124, 123.905893, 0.000952),
                (126, 125.904274, 0.000890),
                (128, 127.903531, 0.019102),
                (129, 128.904779, 0.264006),
                (130, 129.903508, 0.040710),
                (131, 130.905082, 0.212324),
                (132, 131.904154, 0.269086),
                (134, 133.905395, 0.104357),
                (136, 135.907219, 0.088573),
            ],
        ),
        _element(
            "Ar", [(36, 35.967545, 0.003336), (38, 37.962732, 0.000629), (40, 39.962383, 0.996035)]
        ),
        _element(
            "Ge",
            [
                (70, 69.924247, 0.2057),
                (72, 71.922076, 0.2745),
                (73, 72.923459, 0.0775),
                (74, 73.921178, 0.3650),
                (76, 75.921403, 0.0773),
            ],
        ),
        _element(
            "Si", [(28, 27.976927, 0.92223), (29, 28.976495, 0.04685), (30, 29.973770, 0.03092)]
        ),
        _element("Na", [(23, 22.989770, 1.0)]),
        _element("I", [(127, 126.904468, 1.0)]),
        _element("Cs", [(133, 132.905447, 1.0)]),
        _element("F", [(19, 18.998403163, 1.0)]),
        _element("Al", [(27, 26.98153853, 1.0)]),
        _element("C", [(12, 12.0, 0.9893), (13, 13.00335483507, 0.0107)]),
    ]
)


def _atomic_weight(symbol: str) -> float:
    isos = _ELEMENTS[symbol]
    return sum(i.abundance * i.mass_u for i in isos) / sum(i.abundance for i in isos)


def _compound(name: str, formula: dict[str, int]) -> Target:
    total = sum(n * _atomic_weight(s) for s, n in formula.items())
    return Target(
        name=name,
        elements=tuple(
            (s, _ELEMENTS[s], n * _atomic_weight(s) / total) for s, n in formula.items()
        ),
    )


TARGETS: dict[str, Target] = {
    s: Target(name=s, elements=((s, iso, 1.0),)) for s, iso in _ELEMENTS.items()
}
TARGETS["NaI"] = _compound("NaI", {"Na": 1, "I": 1})
TARGETS["CsI"] = _compound("CsI", {"Cs": 1, "I": 1})
TARGETS["C3F8"] = _compound("C3F8", {"C": 3, "F": 8})


def get_target(target: str | Target) -> Target:
    """A built-in target by name (Xe, Ar, Ge, Si, Na, I, Cs, F, Al, C, NaI, CsI, C3F8) or a Target."""
    if isinstance(target, Target):
        return target
    if target not in TARGETS:
        folded = {k.lower(): k for k in TARGETS}
        key = str(target).lower()
        if key not in folded:
            raise UnknownNameError(
                expected_got("nuclear target", f"one of {sorted(TARGETS)} (any case)", target)
            )
        return TARGETS[folded[key]]
    return TARGETS[target]
