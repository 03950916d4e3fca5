"""Spin-dependent WIMP–nucleus recoil spectra (proton-only or neutron-only coupling).

    dR/dE_R = Σ_iso w_iso · ρχ σ_p,n / (2 mχ μ_p,n²) · [4π S_p,n(E_R) / (3 (2J+1))] · η(v_min)

per unit target mass, with w_iso the isotope's mass fraction in the target (NIST
abundances, :mod:`acie.darkmatter.targets`), S the shell-model structure function
(:mod:`acie.darkmatter.structure_functions`, normalised so that σ_p,n is the WIMP–nucleon
cross-section at q = 0) and μ_p,n the WIMP–proton (neutron) reduced mass. The spin-independent
rate has A² F² in place of the bracket.

References
----------
* P. Klos et al., Phys. Rev. D 88, 083516 (2013): structure functions and the normalisation.
* J. D. Lewin, P. F. Smith, Astropart. Phys. 6, 87 (1996): rate conventions.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np

from acie.darkmatter.halo import earth_velocity
from acie.darkmatter.halo_parameters import HaloParameters, resolve_halo
from acie.darkmatter.nuclear import DRU, _eta_kms, _inputs, _vmin_kms
from acie.darkmatter.structure_functions import SdNucleus, sd_nuclei, structure_function
from acie.darkmatter.targets import Target, get_target
from acie.darkmatter.units import AMU_EV, C_CM_S, C_KMS, KG_EV
from acie.errors import ShapeError, expected_got

__all__ = ["dr_de_sd", "dr_de_sd_kernel", "rate_conversion"]

_PROTON_AMU = 1.007276466621  # CODATA 2018 m_p / u
_NEUTRON_AMU = 1.00866491595  # CODATA 2018 m_n / u


def rate_conversion() -> float:
    """Factor from ρ[eV/cm³]·σ[cm²]/(m[eV]·μ²[eV²])·η[s/km] to events/(keV kg day)."""
    return C_CM_S * C_KMS * 1e3 * KG_EV * 86400.0


def dr_de_sd_kernel(
    e_kev: np.ndarray,
    m_chi_gev: np.ndarray | float,
    sigma_cm2: np.ndarray | float,
    target: Target,
    h: HaloParameters,
    coupling: str = "proton",
    *,
    band: str = "central",
    vvec: np.ndarray | None = None,
    nucleon_mass_u: float | None = None,
    nuclei: list[SdNucleus] | None = None,
) -> np.ndarray:
    """SD dR/dE in events/(keV kg day) on broadcast float arrays (the hot loop).

    ``nucleon_mass_u`` overrides the nucleon mass in μ_p,n (default m_p or m_n by coupling);
    ``nuclei`` overrides the target's spin-carrying isotopes (name, J, mass, weight), e.g. to
    reproduce another code's isotope conventions.
    """
    if nuclei is None:
        nuclei = sd_nuclei(target)
    e = np.asarray(e_kev, float)
    mchi = np.asarray(m_chi_gev, float) * 1e9
    if nucleon_mass_u is None:
        nucleon_mass_u = _PROTON_AMU if coupling.lower().startswith("p") else _NEUTRON_AMU
    m_nucleon = nucleon_mass_u * AMU_EV
    mu = mchi * m_nucleon / (mchi + m_nucleon)
    rho = h.rho.to_value(u.GeV / u.cm**3) * 1e9
    pref = rho / (2.0 * mchi * mu**2) * np.asarray(sigma_cm2, float) * rate_conversion()
    total = np.zeros(np.broadcast_shapes(e.shape, np.shape(pref)))
    for nuc in nuclei:
        resp = (
            4.0
            * math.pi
            * structure_function(nuc.name, coupling, e, band)
            / (3.0 * (2.0 * nuc.spin + 1.0))
        )
        eta = _eta_kms(_vmin_kms(e, mchi, np.asarray(nuc.mass_ev)), h, vvec)
        total = total + nuc.weight * pref * resp * eta
    return total


def dr_de_sd(
    energy,
    mass,
    cross_section,
    target: str | Target = "Xe",
    *,
    coupling: str = "proton",
    band: str = "central",
    halo: HaloParameters | str | None = None,
    time=None,
) -> u.Quantity:
    """Spin-dependent differential rate dR/dE_R, events/(keV kg day).

    Parameters
    ----------
    energy : Quantity ['energy'], shape (n_E,)
        Recoil energies (≤ 600 keV, the structure functions' range).
    mass : Quantity ['mass'] or ['energy'], scalar or shape (n_m,)
        Dark-matter mass(es); with an array the result has shape (n_m, n_E).
    cross_section : Quantity ['area']
        WIMP–proton (``coupling="proton"``) or WIMP–neutron cross-section at q = 0.
    target : str or Target
        A target whose spin-carrying isotopes all have shipped structure functions (Xe, Ge,
        Si, Na, I, NaI, F, Al, C3F8; not Cs or CsI).
    coupling : {"proton", "neutron"}
    band : {"central", "down", "up"}
        Central structure function or an edge of its two-body-current band.
    halo : HaloParameters or name, optional
    time : astropy Time, optional
        If given (scalar), the Earth velocity at that time replaces ``halo.v_earth``.

    Raises
    ------
    UnknownNameError
        For targets with isotopes lacking shipped structure functions (Cs, CsI) or none.
    """
    e, m, s = _inputs(energy, mass, cross_section)
    h = resolve_halo(halo)
    vvec = None if time is None else earth_velocity(time, h).to_value(u.km / u.s)
    if vvec is not None and vvec.shape != (3,):
        raise ShapeError(expected_got("time", "a scalar Time", vvec.shape))
    mm = m[..., None] if m.ndim else m
    ss = s[..., None] if s.ndim else s
    tgt = get_target(target)
    return dr_de_sd_kernel(e, mm, ss, tgt, h, coupling, band=band, vvec=vvec) * DRU
