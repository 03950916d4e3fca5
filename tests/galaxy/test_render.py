"""The Gaussian-mixture Sérsic renderer against GalSim and closed forms."""

import numpy as np
import pytest

from acie.errors import NonPhysicalValueError, ShapeError
from acie.galaxy.render import render_sersic, sersic_enclosed_fraction, sersic_mixture


def test_mixture_reproduces_the_exact_sersic_curve_of_growth():
    # exact: L(<R)/L = P(2n, b_n (R/R_e)^(1/n)) (Ciotti & Bertin 1999); tolerance 2e-3
    n_grid, sig, amps = sersic_mixture()
    radii = np.array([0.1, 0.3, 0.5, 1.0, 2.0, 4.0, 8.0])
    for n in (0.3, 0.5, 1.0, 2.0, 4.0, 6.2):
        i = int(np.argmin(np.abs(n_grid - n)))
        mog = (amps[i] * -np.expm1(-(radii[:, None] ** 2) / (2 * sig**2))).sum(axis=1)
        np.testing.assert_allclose(mog, sersic_enclosed_fraction(radii, n), atol=2e-3)
    np.testing.assert_allclose(amps.sum(axis=1), 1.0, atol=1e-12)


def test_flux_normalisation_of_a_compact_galaxy_on_a_large_stamp():
    img = render_sersic([123.4], [1.5], [1.0], [0.6], [0.3], [2.5], image_size=96)
    # exponential: fraction outside ~30 R_e is ~1e-20; tolerance set by pixel-variance approx
    assert img.sum() == pytest.approx(123.4, rel=1e-3)


def test_against_galsim_flux_and_profile():
    galsim = pytest.importorskip("galsim")
    rng = np.random.default_rng(7)
    m = 8
    n = np.concatenate([[0.5, 1.0, 4.0, 6.2], rng.uniform(0.3, 6.2, m - 4)])
    re = rng.uniform(0.7, 10.0, m)
    q = rng.uniform(0.25, 1.0, m)
    pa = rng.uniform(0, np.pi, m)
    fwhm = rng.uniform(2.0, 4.0, m)
    ours = render_sersic(np.full(m, 100.0), re, n, q, pa, fwhm, image_size=64)[:, 0]
    for i in range(m):
        prof = galsim.Sersic(n[i], half_light_radius=re[i], flux=100.0).shear(
            q=q[i], beta=pa[i] * galsim.radians
        )
        ref = (
            galsim.Convolve(prof, galsim.Gaussian(fwhm=fwhm[i]))
            .drawImage(nx=64, ny=64, scale=1.0)
            .array
        )
        # stated tolerances: stamp flux within 1 %, every pixel within 2 % of the peak
        assert ours[i].sum() == pytest.approx(ref.sum(), rel=1e-2)
        assert np.abs(ours[i] - ref).max() < 0.02 * ref.max()


def test_symmetries_position_angle_period_and_round_profiles():
    a = render_sersic([1.0], [4.0], [2.0], [0.5], [0.4], [2.0])
    b = render_sersic([1.0], [4.0], [2.0], [0.5], [0.4 + np.pi], [2.0])
    np.testing.assert_allclose(a, b, atol=1e-7)
    c = render_sersic([1.0, 1.0], [4.0, 4.0], [2.0, 2.0], [1.0, 1.0], [0.0, 1.0], [2.0, 2.0])
    np.testing.assert_allclose(c[0], c[1], atol=1e-7)
    # a 90-degree rotation of the position angle transposes the stamp
    d = render_sersic([1.0, 1.0], [4.0, 4.0], [2.0, 2.0], [0.5, 0.5], [0.0, np.pi / 2], [2.0, 2.0])
    np.testing.assert_allclose(d[0, 0], d[1, 0].T, atol=1e-6)


def test_multiband_flux_scales_a_single_profile():
    img = render_sersic([[1.0, 2.0, 3.0]], [3.0], [1.5], [0.7], [0.2], [2.0])
    assert img.shape == (1, 3, 64, 64)
    np.testing.assert_allclose(img[0, 2], 3 * img[0, 0], rtol=1e-5)


def test_bad_input_is_typed():
    with pytest.raises(ShapeError):
        render_sersic([1.0, 2.0], [3.0, 3.0, 3.0], 1.0, 1.0, 0.0, 2.0)
    with pytest.raises(NonPhysicalValueError, match="sersic_n"):
        render_sersic([1.0], [3.0], [7.0], [1.0], [0.0], [2.0])
    with pytest.raises(NonPhysicalValueError, match="axis_ratio"):
        render_sersic([1.0], [3.0], [1.0], [0.0], [0.0], [2.0])
