"""Virial equilibrium of a galaxy: ``2T + V = 0``, hence ``sigma^2 = G M_dyn / (beta(n) R_e)``.

For a relaxed, self-gravitating system the scalar virial theorem gives ``2T + V = 0``
(Binney & Tremaine 2008, §4.8.3). Writing ``T = (3/2) M <sigma_1D^2>`` and
``V = -G M^2 / r_g`` with a gravitational radius ``r_g`` proportional to the projected
half-light radius ``R_e`` turns it into ``M_dyn = beta R_e sigma_e^2 / G``, where the
dimensionless *structure constant* ``beta`` absorbs the density profile, projection and
luminosity weighting. We use the Sérsic-index dependent calibration of Cappellari et al.
(2006, MNRAS 366, 1126, eq. 20), from spherical isotropic Sérsic models::

    beta(n) = 8.87 - 0.831 n + 0.0241 n^2

(``beta ≈ 5.9`` for de Vaucouleurs ``n = 4``; their best-fit constant for real galaxies
is ``beta = 5.0 ± 0.1``, and the virial masses scatter by about 0.08 dex).

``M_dyn`` counts the baryons and twice the NFW dark matter inside a sphere of radius
``R_e`` (half the light, and by assumption half the baryons, lie inside ``R_e``; the
estimator ``M_dyn`` is ~2 M(<R_e), Cappellari et al. 2006 §4.2). Functions work on
numpy arrays and torch tensors (differentiable).
"""

from __future__ import annotations

import math

from acie.physics._backend import namespace
from acie.physics.constants import G_KPC_KMS2_PER_MSUN
from acie.physics.nfw import enclosed_mass

__all__ = [
    "VIRIAL_SCATTER_DEX",
    "dynamical_mass",
    "structure_constant",
    "virial_residual",
    "virial_velocity_dispersion",
]

#: Intrinsic scatter of ``log10 sigma^2`` about the virial relation [dex] (Cappellari
#: et al. 2006 find 0.08 dex rms between virial and Schwarzschild masses).
VIRIAL_SCATTER_DEX = 0.08


def structure_constant(sersic_n):
    """Virial structure constant ``beta(n)`` of Cappellari et al. (2006, eq. 20) [dimensionless]."""
    return 8.87 - 0.831 * sersic_n + 0.0241 * sersic_n**2


def dynamical_mass(log_halo_mass, log_stellar_mass, log_gas_mass, log_size):
    """Virial (dynamical) mass ``M_* + M_gas + 2 M_DM(<R_e)`` [M_sun].

    Parameters
    ----------
    log_halo_mass, log_stellar_mass, log_gas_mass : array-like ['dex(solMass)']
    log_size : array-like ['dex(kpc)']
        Half-light radius ``R_e``.
    """
    xp = namespace(log_halo_mass, log_stellar_mass, log_gas_mass, log_size)
    r_e = 10.0 ** xp.asarray(log_size)
    baryons = 10.0 ** xp.asarray(log_stellar_mass) + 10.0 ** xp.asarray(log_gas_mass)
    return baryons + 2.0 * enclosed_mass(r_e, xp.asarray(log_halo_mass, like=r_e))


def virial_velocity_dispersion(log_halo_mass, log_stellar_mass, log_gas_mass, log_size, sersic_n):
    """The velocity dispersion ``sqrt(G M_dyn / (beta(n) R_e))`` of virial equilibrium [km/s]."""
    xp = namespace(log_halo_mass, log_stellar_mass, log_gas_mass, log_size, sersic_n)
    m_dyn = dynamical_mass(log_halo_mass, log_stellar_mass, log_gas_mass, log_size)
    r_e = 10.0 ** xp.asarray(log_size)
    return xp.sqrt(G_KPC_KMS2_PER_MSUN * m_dyn / (structure_constant(xp.asarray(sersic_n)) * r_e))


def virial_residual(
    log_halo_mass, log_stellar_mass, log_gas_mass, log_size, sersic_n, velocity_dispersion
):
    """``log10(sigma^2 / sigma_vir^2)`` [dex]: 0 in exact virial equilibrium."""
    xp = namespace(
        log_halo_mass, log_stellar_mass, log_gas_mass, log_size, sersic_n, velocity_dispersion
    )
    sigma_vir = virial_velocity_dispersion(
        log_halo_mass, log_stellar_mass, log_gas_mass, log_size, sersic_n
    )
    return 2.0 * (xp.log(xp.asarray(velocity_dispersion)) - xp.log(sigma_vir)) / math.log(10.0)
