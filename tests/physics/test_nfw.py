import numpy as np
import pytest
from scipy.integrate import quad

from acie.physics import nfw
from acie.physics.constants import HUBBLE_H, RHO_CRIT0_MSUN_PER_KPC3


def test_r200_encloses_200_rho_crit():
    m = 1e12
    r = nfw.r200c(12.0)
    assert m / (4 / 3 * np.pi * r**3) == pytest.approx(200 * RHO_CRIT0_MSUN_PER_KPC3, rel=1e-12)
    # a Milky-Way-mass halo has R_200c ~ 200 kpc
    assert 190 < r < 230


def test_dutton_maccio_concentration_at_pivot_mass():
    # at M = 1e12 / h M_sun and z = 0: log10 c = a = 0.905 (Dutton & Maccio 2014, eq. 8)
    assert nfw.concentration(12.0 - np.log10(HUBBLE_H)) == pytest.approx(10**0.905, rel=1e-12)
    assert nfw.concentration(13.0) < nfw.concentration(12.0)


@pytest.mark.parametrize("log_m", [11.0, 12.0, 13.5])
def test_enclosed_mass_matches_integrated_nfw_density(log_m):
    m200 = 10**log_m
    c = nfw.concentration(log_m)
    rs = nfw.r200c(log_m) / c
    rho_s = m200 / (4 * np.pi * rs**3 * (np.log1p(c) - c / (1 + c)))

    def shell(r):
        x = r / rs
        return 4 * np.pi * r**2 * rho_s / (x * (1 + x) ** 2)

    for r in (0.5, 5.0, 50.0, nfw.r200c(log_m)):
        # independent quadrature of rho(r) = rho_s / (x (1 + x)^2); tolerance 1e-8
        exact = quad(shell, 0.0, r, epsabs=0, epsrel=1e-11)[0]
        assert nfw.enclosed_mass(r, log_m) == pytest.approx(exact, rel=1e-8)
    assert nfw.enclosed_mass(nfw.r200c(log_m), log_m) == pytest.approx(m200, rel=1e-12)


def test_torch_and_numpy_agree():
    torch = pytest.importorskip("torch")
    r = np.array([1.0, 10.0])
    lm = np.array([11.5, 12.5])
    np.testing.assert_allclose(
        nfw.enclosed_mass(
            torch.tensor(r, dtype=torch.float64), torch.tensor(lm, dtype=torch.float64)
        ).numpy(),
        nfw.enclosed_mass(r, lm),
        rtol=1e-12,
    )
