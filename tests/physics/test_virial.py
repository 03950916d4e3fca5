import numpy as np
import pytest

from acie.physics import virial
from acie.physics.constants import G_KPC_KMS2_PER_MSUN


def test_structure_constant_of_cappellari_2006():
    # eq. 20: beta(4) = 8.87 - 3.324 + 0.3856 = 5.9316 (hand calc)
    assert virial.structure_constant(4.0) == pytest.approx(5.9316, abs=1e-4)
    # their best-fitting constant for real early types is 5.0 +- 0.1 (n ~ 4-7):
    # beta(n) crosses 5.0 between n = 5 and n = 6
    assert virial.structure_constant(6.0) < 5.0 < virial.structure_constant(5.0)


def test_virial_residual_is_zero_for_the_virial_dispersion_and_sigma_scales_as_sqrt_m():
    args = (12.0, 10.5, 9.8, np.log10(4.0), 2.0)
    s = virial.virial_velocity_dispersion(*args)
    assert virial.virial_residual(*args, s) == pytest.approx(0.0, abs=1e-12)
    # 2T + V = 0 => sigma^2 = G M / (beta R): check the formula directly
    m = virial.dynamical_mass(*args[:4])
    assert s**2 == pytest.approx(
        G_KPC_KMS2_PER_MSUN * m / (virial.structure_constant(2.0) * 4.0), rel=1e-12
    )
    # doubling sigma is +0.602 dex in sigma^2
    assert virial.virial_residual(*args, 2 * s) == pytest.approx(np.log10(4.0), abs=1e-12)


def test_milky_way_like_galaxy_has_a_plausible_dispersion():
    # M_h = 1e12, M_* = 10^10.6, R_e = 4 kpc: sigma of order 100 km/s
    s = virial.virial_velocity_dispersion(12.0, 10.6, 9.9, np.log10(4.0), 1.5)
    assert 70 < s < 160
