"""Conservation constraints: baryons within the cosmic baryon fraction, and photometry.

* Baryons: a halo cannot hold more baryons than it accreted, ``M_* + M_gas <= f_b M_h``
  with the cosmic baryon fraction ``f_b = Omega_b / Omega_m = 0.157`` (Planck 2018);
  real galaxies hold far less (a few per cent of ``M_h`` in stars at the peak of the
  stellar-to-halo relation, Moster et al. 2013).
* Luminosity, flux and distance: energy conservation through a sphere,
  ``F = L / (4 pi d_L^2)``, in AB magnitudes ``m = M + 5 log10(d_L / 10 pc)``
  (K-correction neglected).
* Mass-to-light ratio: stellar populations of galaxies span ``0.1 <~ Upsilon_r <~ 10``
  (Bell et al. 2003 colour range; the bounds are generous on both sides).

Functions work on numpy arrays and torch tensors.
"""

from __future__ import annotations

import math

from acie.physics._backend import namespace
from acie.physics.constants import BARYON_FRACTION

__all__ = [
    "LOG_MASS_TO_LIGHT_BOUNDS",
    "NANOMAGGY_ZERO_POINT",
    "baryon_excess",
    "flux_from_luminosity",
    "luminosity_from_flux",
    "mass_to_light_excess",
]

#: AB magnitude of a flux of one nanomaggy (SDSS convention: m = 22.5 - 2.5 log10 f).
NANOMAGGY_ZERO_POINT = 22.5

#: ``log10 Upsilon_r`` bounds [dex(M_sun / L_sun)] of galaxy stellar populations.
LOG_MASS_TO_LIGHT_BOUNDS = (-1.0, 1.0)


def baryon_excess(
    log_halo_mass, log_stellar_mass, log_gas_mass, baryon_fraction: float = BARYON_FRACTION
):
    """``max(0, log10((M_* + M_gas) / (f_b M_h)))`` [dex]: 0 when baryons fit in the halo."""
    xp = namespace(log_halo_mass, log_stellar_mass, log_gas_mass)
    ln10 = math.log(10.0)
    log_baryons = (
        xp.logaddexp(xp.asarray(log_stellar_mass) * ln10, xp.asarray(log_gas_mass) * ln10) / ln10
    )
    return xp.relu(log_baryons - xp.asarray(log_halo_mass) - math.log10(baryon_fraction))


def mass_to_light_excess(log_stellar_mass, log_luminosity, bounds=LOG_MASS_TO_LIGHT_BOUNDS):
    """How far ``log10(M_*/L)`` lies outside ``bounds`` [dex]; 0 inside."""
    xp = namespace(log_stellar_mass, log_luminosity)
    log_ml = xp.asarray(log_stellar_mass) - xp.asarray(log_luminosity)
    return xp.relu(log_ml - bounds[1]) + xp.relu(bounds[0] - log_ml)


def luminosity_from_flux(flux_nmgy, luminosity_distance_mpc, abs_mag_sun: float):
    """``log10 L / L_sun`` in a band from a flux [nanomaggies] and ``d_L`` [Mpc].

    ``abs_mag_sun`` is the Sun's absolute AB magnitude in that band (e.g. 4.65 in SDSS r,
    Willmer 2018, ApJS 236, 47).
    """
    xp = namespace(flux_nmgy, luminosity_distance_mpc)
    app = NANOMAGGY_ZERO_POINT - 2.5 * xp.log10(xp.asarray(flux_nmgy))
    absolute = app - 5.0 * xp.log10(xp.asarray(luminosity_distance_mpc)) - 25.0
    return (abs_mag_sun - absolute) / 2.5


def flux_from_luminosity(log_luminosity, luminosity_distance_mpc, abs_mag_sun: float):
    """Flux [nanomaggies] of a source of ``log10 L / L_sun`` at ``d_L`` [Mpc] (inverse of above)."""
    xp = namespace(log_luminosity, luminosity_distance_mpc)
    absolute = abs_mag_sun - 2.5 * xp.asarray(log_luminosity)
    app = absolute + 5.0 * xp.log10(xp.asarray(luminosity_distance_mpc)) + 25.0
    return 10.0 ** (-0.4 * (app - NANOMAGGY_ZERO_POINT))
