"""Spin-dependent structure functions from the Klos et al. (2013) shell-model fits.

Klos, Menéndez, Gazit & Schwenk fit the isoscalar, isovector and interference structure
factors of each odd nucleus as

    S_ij(u) = e^(−u) Σ_k c_ij,k u^k,   u = q² b² / 2,   b² = ħ² / (m_nucleon ħω),
    ħω = (45 A^(−1/3) − 25 A^(−2/3)) MeV,

with the band from chiral two-body currents given as two fits each of S_11 and S_01 (S_00
has none: the currents renormalise the isovector coupling only). For proton-only
(a₀ = a₁ = 1) and neutron-only (a₀ = −a₁ = 1) couplings

    S_p = S_00 + S_01 + S_11,   S_n = S_00 − S_01 + S_11.

The two S_11 fits and the two S_01 fits are paired by the q = 0 identity of a single
amplitude, S_01(0)² = 4 S_00(0) S_11(0) (checked to 2 % when the table is read); each pair is
one edge of the band, the central value is their mean and ``down``/``up`` their pointwise
minimum/maximum. The q → E_R conversion uses the isotope's mass, q² = 2 m_N E_R.

References
----------
* P. Klos, J. Menéndez, D. Gazit, A. Schwenk, Phys. Rev. D 88, 083516 (2013), Appendix
  (fit coefficients); provenance in ``acie/darkmatter/data/sd/REFERENCE.md``.
* Oscillator parameter: J. Blomqvist, A. Molinari, Nucl. Phys. A 106, 545 (1968).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from acie.darkmatter.channel_data import read_sd_fits
from acie.errors import DataFormatError, UnknownNameError, expected_got

__all__ = [
    "U_MAX",
    "fit_isotopes",
    "fit_max_energy_kev",
    "fit_structure_function",
    "oscillator_u",
    "sd_components",
]

_HBARC_MEV_FM = 197.3269804  # CODATA 2018
_NUCLEON_MEV = 0.5 * (938.27208816 + 939.56542052)  # CODATA 2018 (m_p + m_n) / 2
_U_MEV = 931.49410242  # CODATA 2018 atomic mass unit
#: Largest u at which the fits are used: the ¹²⁷I proton fit turns negative at u ≈ 6.9.
U_MAX = 6.0
#: Largest relative mismatch of S_01(0)² = 4 S_00(0) S_11(0) accepted when pairing the fits.
PAIRING_RTOL = 0.02


def fit_isotopes() -> list[str]:
    """Isotopes with shipped fit coefficients."""
    return sorted(read_sd_fits())


def oscillator_u(e_kev: np.ndarray, a: int, mass_u: float) -> np.ndarray:
    """The oscillator variable u = q² b² / 2 for recoil energies ``e_kev`` (keV) of a nucleus of mass number ``a``.

    ``mass_u`` is the nuclear (isotope) mass in atomic mass units.
    """
    hw = 45.0 * a ** (-1.0 / 3.0) - 25.0 * a ** (-2.0 / 3.0)  # MeV
    b2 = _HBARC_MEV_FM**2 / (_NUCLEON_MEV * hw)  # fm²
    q2 = 2.0 * mass_u * _U_MEV * np.asarray(e_kev, float) * 1e-3  # MeV²
    return q2 / _HBARC_MEV_FM**2 * b2 / 2.0


def fit_max_energy_kev(a: int, mass_u: float) -> float:
    """Recoil energy (keV) at which u reaches :data:`U_MAX` for this nucleus."""
    return float(U_MAX / oscillator_u(np.array(1.0), a, mass_u))


def _poly(c: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.exp(-u) * np.polynomial.polynomial.polyval(u, c)


@lru_cache(maxsize=16)
def _pairing(isotope: str) -> tuple[int, int]:
    """Column indices (S11, S01) of edge A; edge B takes the other two. Checked at q = 0."""
    c = read_sd_fits()[isotope]
    s00, s11 = c[0, 0], c[0, 1:3]
    s01 = c[0, 3:5]
    best: tuple[float, tuple[int, int]] | None = None
    for i in (1, 2):
        for j in (3, 4):
            target = 4.0 * s00 * s11[i - 1]
            mismatch = abs(s01[j - 3] ** 2 - target) / target
            if best is None or mismatch < best[0]:
                best = (mismatch, (i, j))
    assert best is not None
    mismatch, (i, j) = best
    other = (3 - i, 7 - j)
    t2 = 4.0 * s00 * c[0, other[0]]
    mismatch2 = abs(c[0, other[1]] ** 2 - t2) / t2
    if max(mismatch, mismatch2) > PAIRING_RTOL:
        raise DataFormatError(
            expected_got(
                f"{isotope} fit coefficients",
                f"S_01(0)² = 4 S_00(0) S_11(0) within {PAIRING_RTOL:.0%} for both band edges",
                f"mismatch {max(mismatch, mismatch2):.1%}",
            )
        )
    return i, j


def sd_components(isotope: str, u: np.ndarray) -> dict[str, np.ndarray]:
    """S_00 and the two band edges of S_11, S_01 at ``u`` (keys ``S00, S11_a, S01_a, S11_b, S01_b``)."""
    fits = read_sd_fits()
    if isotope not in fits:
        raise UnknownNameError(
            expected_got("isotope with Klos 2013 fits", f"one of {fit_isotopes()}", isotope)
        )
    c = fits[isotope]
    i, j = _pairing(isotope)
    return {
        "S00": _poly(c[:, 0], u),
        "S11_a": _poly(c[:, i], u),
        "S01_a": _poly(c[:, j], u),
        "S11_b": _poly(c[:, 3 - i], u),
        "S01_b": _poly(c[:, 7 - j], u),
    }


def fit_structure_function(
    isotope: str, coupling: str, e_kev: np.ndarray, a: int, mass_u: float, band: str
) -> np.ndarray:
    """S_p (``coupling="p"``) or S_n (``"n"``) at ``e_kev`` from the fits; band central/down/up."""
    comp = sd_components(isotope, oscillator_u(e_kev, a, mass_u))
    sign = 1.0 if coupling == "p" else -1.0
    edge_a = comp["S00"] + sign * comp["S01_a"] + comp["S11_a"]
    edge_b = comp["S00"] + sign * comp["S01_b"] + comp["S11_b"]
    if band == "down":
        return np.minimum(edge_a, edge_b)
    if band == "up":
        return np.maximum(edge_a, edge_b)
    return 0.5 * (edge_a + edge_b)
