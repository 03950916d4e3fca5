"""NFW dark-matter haloes: virial radius, concentration and enclosed mass.

Works on numpy arrays and torch tensors (differentiable). Haloes are defined with
respect to 200 times the critical density today (``M_200c``).

References
----------
Navarro, Frenk & White 1997, ApJ 490, 493 (the NFW profile).
Dutton & Macciò 2014, MNRAS 441, 3359, eqs. 7–8 (concentration–mass relation for
``c_200c`` in Planck cosmology: ``log10 c = a + b log10(M / 1e12 h^-1 M_sun)`` with
``a = 0.520 + 0.385 exp(-0.617 z^1.21)``, ``b = -0.101 + 0.026 z``).
"""

from __future__ import annotations

import math

from acie.physics._backend import namespace
from acie.physics.constants import HUBBLE_H, RHO_CRIT0_MSUN_PER_KPC3

__all__ = ["concentration", "enclosed_mass", "nfw_m", "r200c"]

_DELTA = 200.0


def r200c(log_halo_mass):
    """Radius enclosing 200 times the critical density, ``R_200c`` [kpc].

    Parameters
    ----------
    log_halo_mass : array-like ['dex(solMass)']
        ``log10 M_200c / M_sun``.
    """
    xp = namespace(log_halo_mass)
    m = 10.0 ** xp.asarray(log_halo_mass)
    return (3.0 * m / (4.0 * math.pi * _DELTA * RHO_CRIT0_MSUN_PER_KPC3)) ** (1.0 / 3.0)


def concentration(log_halo_mass, z: float = 0.0):
    """NFW concentration ``c_200c`` of Dutton & Macciò (2014) at redshift ``z``."""
    xp = namespace(log_halo_mass)
    a = 0.520 + (0.905 - 0.520) * math.exp(-0.617 * z**1.21)
    b = -0.101 + 0.026 * z
    return 10.0 ** (a + b * (xp.asarray(log_halo_mass) - (12.0 - math.log10(HUBBLE_H))))


def nfw_m(x):
    """Dimensionless NFW mass function ``m(x) = ln(1 + x) - x / (1 + x)``."""
    xp = namespace(x)
    return xp.log1p(x) - x / (1.0 + x)


def enclosed_mass(r_kpc, log_halo_mass, z: float = 0.0):
    """Dark-matter mass inside the sphere of radius ``r`` [M_sun] for an NFW halo.

    ``M(<r) = M_200c m(r / r_s) / m(c)``, ``r_s = R_200c / c``.
    """
    xp = namespace(r_kpc, log_halo_mass)
    log_halo_mass = xp.asarray(log_halo_mass, like=r_kpc if not isinstance(r_kpc, float) else None)
    c = concentration(log_halo_mass, z)
    rs = r200c(log_halo_mass) / c
    return 10.0**log_halo_mass * nfw_m(r_kpc / rs) / nfw_m(c)
