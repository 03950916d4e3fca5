"""Shell-model spin-dependent structure functions S_p(E_R), S_n(E_R) of odd nuclei.

Convention (Klos et al. 2013, proton-only a₀ = a₁ = 1, neutron-only a₀ = −a₁ = 1): the
spin-dependent WIMP–nucleus cross-section normalised to the WIMP–proton (neutron)
cross-section σ_p (σ_n) is

    dσ/dE_R = (2π m_N σ_p,n / (3 μ_p,n² v² (2J+1))) · S_p,n(E_R),

so that at q = 0, S(0) = (2J+1)(J+1) ⟨S_p,n⟩² / (π J) and σ_SD(0) = (4/3)((J+1)/J)
⟨S_p,n⟩² (μ_N/μ_p,n)² σ_p,n. Shipped:

* ¹²⁹Xe and ¹³¹Xe: the tabulated S(E_R) of wimprates (central value and the two-body-current
  band), 0–600 keV;
* ¹⁹F, ²³Na, ²⁷Al, ²⁹Si, ⁷³Ge, ¹²⁷I: the paper's fit coefficients
  (:mod:`acie.darkmatter.sd_fits`), up to u = q²b²/2 = 6 (or 600 keV, whichever is lower).

¹³³Cs has a nuclear spin listed here but no shipped structure function (no published
shell-model table or fit was found in a form that could be shipped); asking for it raises
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
from acie.darkmatter.sd_fits import fit_isotopes, fit_max_energy_kev, fit_structure_function
from acie.darkmatter.targets import TARGETS, Target
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
    "Al27": 2.5,
}
_SOURCE = "Klos et al. 2013: Xe tables from wimprates 0.5, fit coefficients for the others"
#: Upper end (keV) of the tabulated Xe structure functions.
_TABLE_MAX_KEV = 600.0


def available_sd_isotopes() -> list[str]:
    """Isotopes with a shipped structure function (table or fit)."""
    _, cols = read_sd_table()
    return sorted({name.split("_")[0] for name in cols} | set(fit_isotopes()))


def _isotope(name: str) -> tuple[int, float]:
    """(A, atomic mass in u) of ``name`` (e.g. ``"Ge73"``) from the built-in targets."""
    symbol = name.rstrip("0123456789")
    a = int(name[len(symbol) :])
    for iso in TARGETS[symbol].elements[0][1]:
        if a == iso.A:
            return a, iso.mass_u
    raise UnknownNameError(expected_got("isotope", "one of the built-in targets'", name))


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
        For energies beyond the table (0–600 keV) or the fit's range (u <= 6, <= 600 keV).
    """
    c = _coupling(coupling)
    if band not in SD_BANDS:
        raise UnknownNameError(expected_got("SD band", f"one of {list(SD_BANDS)}", band))
    energies, cols = read_sd_table()
    key = f"{isotope}_{c}_{band}"
    tabulated = key in cols
    if not tabulated and isotope not in fit_isotopes():
        raise UnknownNameError(
            expected_got(
                "spin-dependent isotope",
                f"one of {available_sd_isotopes()} ({_SOURCE}); no published shell-model "
                "structure function is shipped for others",
                isotope,
            )
        )
    e = np.asarray(e_kev, dtype=float)
    if np.any(e < 0) or not np.all(np.isfinite(e)):
        raise NonPhysicalValueError(expected_got("recoil energy", "finite and >= 0 keV", e.min()))
    if tabulated:
        e_max = float(energies[-1])
    else:
        a, mass_u = _isotope(isotope)
        e_max = min(_TABLE_MAX_KEV, fit_max_energy_kev(a, mass_u))
    if np.any(e > e_max):
        raise OutOfRangeError(
            expected_got(
                f"recoil energy for the {isotope} structure function",
                f"<= {e_max:.4g} keV (the {'table' if tabulated else 'fit'}'s range)",
                f"{float(e.max()):g} keV",
            )
        )
    if tabulated:
        return np.interp(e, energies, cols[key])
    return fit_structure_function(isotope, c, e, a, mass_u, band)


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
