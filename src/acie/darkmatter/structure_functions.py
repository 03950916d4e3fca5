"""Shell-model spin-dependent structure functions S_p(E_R), S_n(E_R) of odd nuclei.

Convention (Klos et al. 2013, proton-only a₀ = a₁ = 1, neutron-only a₀ = −a₁ = 1): the
spin-dependent WIMP–nucleus cross-section normalised to the WIMP–proton (neutron)
cross-section σ_p (σ_n) is

    dσ/dE_R = (2π m_N σ_p,n / (3 μ_p,n² v² (2J+1))) · S_p,n(E_R),

so that at q = 0, S(0) = (2J+1)(J+1) ⟨S_p,n⟩² / (π J) and σ_SD(0) = (4/3)((J+1)/J)
⟨S_p,n⟩² (μ_N/μ_p,n)² σ_p,n. Shipped: ¹²⁹Xe and ¹³¹Xe (central value and the two-body-current
band); other odd isotopes (⁷³Ge, ²³Na, ¹²⁷I, ¹³³Cs, ¹⁹F, ²⁹Si) have nuclear spins listed
here but no shipped structure function, and asking for them raises
:class:`~acie.errors.UnknownNameError` naming what is available.

References
----------
* P. Klos, J. Menéndez, D. Gazit, A. Schwenk, Phys. Rev. D 88, 083516 (2013).
* Nuclear spins: NUBASE2020, F. G. Kondev et al., Chin. Phys. C 45, 030001 (2021).
* Data provenance: ``acie/darkmatter/data/sd/REFERENCE.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acie.darkmatter.channel_data import read_sd_table
from acie.darkmatter.targets import Target
from acie.darkmatter.units import AMU_EV
from acie.errors import NonPhysicalValueError, OutOfRangeError, UnknownNameError, expected_got

__all__ = [
    "COUPLINGS",
    "SD_BANDS",
    "SPINS",
    "SdNucleus",
    "available_sd_isotopes",
    "sd_nuclei",
    "structure_function",
]

#: Coupling names accepted (proton-only or neutron-only).
COUPLINGS = {"proton": "p", "neutron": "n", "p": "p", "n": "n"}
#: Bands of the shipped tables: central value and the two-body-current band edges.
SD_BANDS = ("central", "down", "up")
#: Ground-state spin J of the stable odd-A isotopes in the built-in targets (NUBASE2020).
SPINS: dict[str, float] = {
    "Xe129": 0.5,
    "Xe131": 1.5,
    "Ge73": 4.5,
    "Na23": 1.5,
    "I127": 2.5,
    "Cs133": 3.5,
    "F19": 0.5,
    "Si29": 0.5,
}
_SOURCE = "Klos et al. 2013 (shipped from wimprates 0.5)"


def available_sd_isotopes() -> list[str]:
    """Isotopes with a shipped structure function (``["Xe129", "Xe131"]``)."""
    _, cols = read_sd_table()
    return sorted({name.split("_")[0] for name in cols})


def _coupling(coupling: str) -> str:
    key = str(coupling).lower()
    if key not in COUPLINGS:
        raise UnknownNameError(expected_got("SD coupling", "'proton' or 'neutron'", coupling))
    return COUPLINGS[key]


def structure_function(
    isotope: str, coupling: str, e_kev: np.ndarray, band: str = "central"
) -> np.ndarray:
    """S_p or S_n of ``isotope`` at recoil energies ``e_kev`` (keV floats), linear interpolation.

    Raises
    ------
    UnknownNameError
        For an isotope without shipped data, an unknown coupling or band.
    OutOfRangeError
        For energies beyond the table (0–600 keV).
    """
    c = _coupling(coupling)
    if band not in SD_BANDS:
        raise UnknownNameError(expected_got("SD band", f"one of {list(SD_BANDS)}", band))
    energies, cols = read_sd_table()
    key = f"{isotope}_{c}_{band}"
    if key not in cols:
        raise UnknownNameError(
            expected_got(
                "spin-dependent isotope",
                f"one of {available_sd_isotopes()} ({_SOURCE}); no installed package "
                "provides shell-model structure functions for others",
                isotope,
            )
        )
    e = np.asarray(e_kev, dtype=float)
    if np.any(e < 0) or not np.all(np.isfinite(e)):
        raise NonPhysicalValueError(expected_got("recoil energy", "finite and >= 0 keV", e.min()))
    if np.any(e > energies[-1]):
        raise OutOfRangeError(
            expected_got(
                f"recoil energy for the {isotope} structure function",
                f"<= {energies[-1]:g} keV (the table's range)",
                f"{float(e.max()):g} keV",
            )
        )
    return np.interp(e, energies, cols[key])


@dataclass(frozen=True)
class SdNucleus:
    """One spin-carrying isotope of a target: name, J, mass (eV) and mass-fraction weight."""

    name: str
    spin: float
    mass_ev: float
    weight: float


def sd_nuclei(target: Target) -> list[SdNucleus]:
    """The odd-A isotopes of ``target`` (with J and per-kg weight); all must have shipped data.

    Raises
    ------
    UnknownNameError
        If the target has no spin-carrying isotope, or one without a shipped structure function.
    """
    out: list[SdNucleus] = []
    missing: list[str] = []
    have = set(available_sd_isotopes())
    for symbol, isotopes, mass_fraction in target.elements:
        atom_total = sum(i.abundance for i in isotopes)
        mean_mass = sum(i.abundance * i.mass_u for i in isotopes) / atom_total
        for iso in isotopes:
            name = f"{symbol}{iso.A}"
            if name not in SPINS:
                continue
            if name not in have:
                missing.append(name)
                continue
            w = mass_fraction * iso.abundance * iso.mass_u / (atom_total * mean_mass)
            out.append(SdNucleus(name, SPINS[name], iso.mass_u * AMU_EV, w))
    avail = f"available: {', '.join(available_sd_isotopes())}, {_SOURCE}"
    if not out and not missing:
        raise UnknownNameError(
            f"spin-dependent target {target.name!r} must contain an odd isotope with nuclear "
            f"spin; got none ({avail})"
        )
    if missing:
        raise UnknownNameError(
            f"spin-dependent target {target.name!r} must have shipped structure functions for "
            f"all its odd isotopes ({avail}); got isotopes without them: {', '.join(missing)}"
        )
    return out
