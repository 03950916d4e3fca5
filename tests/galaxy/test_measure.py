import numpy as np
import pytest

from acie.errors import ShapeError
from acie.galaxy.measure import half_light_radius, measure_properties, shape_moments, total_flux
from acie.galaxy.render import render_sersic
from acie.galaxy.simulator import GalaxySimulator


@pytest.mark.parametrize(("n", "re"), [(0.5, 4.0), (1.0, 2.0), (1.0, 6.0), (1.5, 8.0)])
def test_half_light_radius_of_round_profiles(n, re):
    # smooth profiles, negligible PSF (the renderer needs a PSF for cuspy n > 2 profiles)
    img = render_sersic([10.0], [re], [n], [1.0], [0.0], [0.05], image_size=96)
    # curve of growth on pixels: 3 %
    assert half_light_radius(img)[0, 0] == pytest.approx(re, rel=0.03)


def test_psf_correction_is_exact_for_gaussians():
    # Gaussian galaxy (n = 0.5) * Gaussian PSF is Gaussian: r_h^2 adds in quadrature
    img = render_sersic([10.0], [4.0], [0.5], [1.0], [0.0], [3.0], image_size=96)
    assert half_light_radius(img, psf_fwhm=[3.0])[0, 0] == pytest.approx(4.0, rel=0.02)


def test_shape_moments_match_the_weighted_gaussian_closed_form():
    # galaxy covariance S (n = 0.5: sigma = R_e / sqrt(2 ln 2) on the circularised radius),
    # weight W = w^2 I: the weighted moments are those of (S^-1 + W^-1)^-1
    re, q, pa, w = 5.0, 0.4, 0.6, 6.0
    img = render_sersic([1.0], [re], [0.5], [q], [pa], [1e-3], image_size=96)
    s2 = (re / np.sqrt(2 * np.log(2))) ** 2
    rot = np.array([[np.cos(pa), -np.sin(pa)], [np.sin(pa), np.cos(pa)]])
    cov = s2 * rot @ np.diag([1 / q, q]) @ rot.T + np.eye(2) / 12
    c = np.linalg.inv(np.linalg.inv(cov) + np.eye(2) / w**2)
    lam = np.linalg.eigvalsh(c)
    qm, pam = shape_moments(img, weight_sigma=[w])
    assert qm[0] == pytest.approx(np.sqrt(lam[0] / lam[1]), abs=0.01)
    assert pam[0] == pytest.approx(pa, abs=0.01)


def test_measured_luminosity_and_size_of_noise_free_galaxies():
    sim = GalaxySimulator(seed=1)
    b = sim.sample(200, seed=4, render=False)
    clean = sim.render(b.properties, b.nuisances, add_noise=False)
    m = measure_properties(
        clean,
        bands=b.bands,
        pixel_scale=b.pixel_scale,
        luminosity_distance=b.luminosity_distance,
        angular_diameter_distance=b.angular_diameter_distance,
    )
    dl = m["log_luminosity"] - b.properties["log_luminosity"]
    # flux lost off the stamp only lowers L; the median loss is < 0.03 dex
    assert np.all(dl < 1e-3)
    assert np.median(dl) > -0.03
    np.testing.assert_allclose(m["flux_r"], total_flux(clean)[:, 1])


def test_bad_image_shape():
    with pytest.raises(ShapeError):
        half_light_radius(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ShapeError):
        total_flux(np.zeros(10))


def test_sersic_fit_recovers_wings_that_leave_the_stamp():
    from acie.galaxy.measure import sersic_fit

    # a de Vaucouleurs galaxy with R_e = 12 px on a 64 px stamp: 24 % of its flux lies outside
    # the inscribed circle (closed form 1 - P(8, b_4 (32/12)^(1/4)); the corners hold a little)
    img = render_sersic([100.0], [12.0], [4.0], [1.0], [0.0], [2.5], image_size=64)
    assert total_flux(img)[0, 0] < 85.0
    fit = sersic_fit(img, psf_fwhm=2.5, noise_sigma=0.01)
    # model grid: n in steps of 0.1, R_e refined by a parabola; tolerances 3 % / 0.3 / 5 %
    assert fit["flux"][0] == pytest.approx(100.0, rel=0.03)
    assert fit["sersic_n"][0] == pytest.approx(4.0, abs=0.3)
    assert fit["half_light_radius"][0] == pytest.approx(12.0, rel=0.05)


def test_sersic_method_is_less_biased_than_the_stamp_sum():
    sim = GalaxySimulator(seed=1)
    b = sim.sample(60, seed=8)
    kw = dict(
        bands=b.bands,
        pixel_scale=b.pixel_scale,
        luminosity_distance=b.luminosity_distance,
        angular_diameter_distance=b.angular_diameter_distance,
        psf_fwhm=b.nuisances["psf_fwhm"],
    )
    ap = measure_properties(b.images, method="aperture", **kw)
    se = measure_properties(b.images, method="sersic", **kw)
    true = b.properties["log_luminosity"]
    err_ap = np.nanmedian(np.abs(ap["log_luminosity"] - true))
    err_se = np.nanmedian(np.abs(se["log_luminosity"] - true))
    assert err_se < err_ap
    assert np.nanmedian(se["log_luminosity"] - true) == pytest.approx(0.0, abs=0.02)
    with pytest.raises(ValueError, match="method"):
        measure_properties(b.images, method="petrosian", **kw)
