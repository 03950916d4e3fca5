"""Physical and cosmological constants used by the physics constraints, with sources.

Plain floats in fixed units (kpc, km/s, M_sun, Gyr) for hot loops; the tests check each
against :mod:`astropy.constants` / :mod:`astropy.cosmology` so they cannot drift.
"""

from __future__ import annotations

__all__ = [
    "BARYON_FRACTION",
    "G_KPC_KMS2_PER_MSUN",
    "HUBBLE_H",
    "RHO_CRIT0_MSUN_PER_KPC3",
]

#: Newton's constant in kpc (km/s)^2 / M_sun (CODATA 2018 G, IAU 2015 nominal solar
#: mass parameter, as in ``astropy.constants``).
G_KPC_KMS2_PER_MSUN = 4.300917270036279e-06

#: Dimensionless Hubble parameter, Planck 2018 (TT,TE,EE+lowE+lensing+BAO; astropy Planck18).
HUBBLE_H = 0.6766

#: Critical density today, 3 H0^2 / (8 pi G) for H0 = 67.66 km/s/Mpc, in M_sun/kpc^3.
RHO_CRIT0_MSUN_PER_KPC3 = 127.0528153974983

#: Cosmic baryon fraction Omega_b / Omega_m = 0.02237 / (0.02237 + 0.1200) = 0.157,
#: Planck 2018 TT,TE,EE+lowE+lensing (Planck Collaboration 2020, A&A 641, A6, Table 2).
BARYON_FRACTION = 0.02237 / (0.02237 + 0.1200)
