"""Our float constants against astropy (CODATA 2018, IAU 2015, Planck 2018)."""

# SIM300 reads `CONSTANT == pytest.approx(...)` as a Yoda condition; here the constant is the
# value under test and pytest.approx must be the right-hand operand, so the rule does not apply.
# ruff: noqa: SIM300

import astropy.constants as const
import astropy.units as u
import pytest
from astropy.cosmology import Planck18

from acie.galaxy.properties import AGE_OF_UNIVERSE_GYR
from acie.physics import constants as C


def test_gravitational_constant():
    assert C.G_KPC_KMS2_PER_MSUN == pytest.approx(
        const.G.to_value(u.kpc * u.km**2 / u.s**2 / u.M_sun), rel=1e-12
    )


def test_critical_density_and_hubble_parameter():
    assert C.RHO_CRIT0_MSUN_PER_KPC3 == pytest.approx(
        Planck18.critical_density0.to_value(u.M_sun / u.kpc**3), rel=1e-9
    )
    assert C.HUBBLE_H == pytest.approx(Planck18.h, rel=1e-12)


def test_baryon_fraction_is_planck_within_its_parameter_sets():
    # TT,TE,EE+lowE+lensing (ours, 0.1571) vs astropy's +BAO set (Ob0/Om0 = 0.1581): 1 %
    assert C.BARYON_FRACTION == pytest.approx(0.157, abs=5e-4)
    assert C.BARYON_FRACTION == pytest.approx(Planck18.Ob0 / Planck18.Om0, rel=0.01)


def test_age_of_universe():
    assert AGE_OF_UNIVERSE_GYR == pytest.approx(Planck18.age(0).to_value(u.Gyr), abs=1e-3)
