import astropy.units as u
import numpy as np
import pytest

from acie.errors import (
    InputValidationError,
    NonPhysicalValueError,
    OutOfRangeError,
    ShapeError,
    UnknownNodeError,
)
from acie.galaxy import relations as R
from acie.galaxy.constraints import violation_scores
from acie.galaxy.mechanisms import EXOGENOUS_NAMES
from acie.galaxy.properties import PROPERTY_NAMES, descendants
from acie.galaxy.simulator import GalaxySimulator
from acie.physics.virial import virial_residual


@pytest.fixture(scope="module")
def sim():
    return GalaxySimulator(image_size=32, bands=("g", "r"), seed=3)


@pytest.fixture(scope="module")
def batch(sim):
    return sim.sample(16, seed=11)


def test_sample_shapes_units_and_determinism(sim, batch):
    assert batch.images.shape == (16, 2, 32, 32)
    assert batch.images.dtype == np.float32
    assert set(batch.properties) == set(PROPERTY_NAMES)
    assert set(batch.noise) == set(EXOGENOUS_NAMES)
    again = sim.sample(16, seed=11)
    np.testing.assert_array_equal(again.images, batch.images)
    other = sim.sample(16, seed=12)
    assert not np.array_equal(other.properties["log_halo_mass"], batch.properties["log_halo_mass"])


def test_batch_indexing_and_tables(batch):
    sub = batch[2:5]
    assert len(sub) == 3
    np.testing.assert_array_equal(sub.images, batch.images[2:5])
    np.testing.assert_array_equal(batch[3].properties["age"], batch.properties["age"][3:4])
    assert batch.property_matrix().shape == (16, len(PROPERTY_NAMES))
    assert list(batch.to_dataframe().columns)[: len(PROPERTY_NAMES)] == list(PROPERTY_NAMES)
    assert "flux_r" in batch.physics_inputs()


def test_from_noise_reproduces_the_batch(sim, batch):
    again = sim.from_noise(batch.noise, batch.nuisances)
    for k in PROPERTY_NAMES:
        np.testing.assert_array_equal(again.properties[k], batch.properties[k])
    np.testing.assert_array_equal(again.images, batch.images)


def test_null_and_identity_interventions_return_the_factual(sim, batch):
    cf = sim.counterfactual(batch, {})
    np.testing.assert_array_equal(cf.images, batch.images)
    same = sim.counterfactual(batch, {"log_stellar_mass": batch.properties["log_stellar_mass"]})
    for k in PROPERTY_NAMES:
        np.testing.assert_allclose(same.properties[k], batch.properties[k], rtol=0, atol=1e-12)
    np.testing.assert_allclose(same.images, batch.images, rtol=0, atol=1e-6)


def test_do_stellar_mass_changes_descendants_only(sim, batch):
    target = batch.properties["log_stellar_mass"] + np.log10(2.0)  # double the stellar mass
    cf = sim.counterfactual(batch, {"log_stellar_mass": target})
    np.testing.assert_array_equal(cf.properties["log_stellar_mass"], target)
    np.testing.assert_array_equal(cf.properties["log_halo_mass"], batch.properties["log_halo_mass"])
    for k in descendants("log_stellar_mass"):
        assert not np.allclose(cf.properties[k], batch.properties[k]), k
    for k in (*EXOGENOUS_NAMES,):
        np.testing.assert_array_equal(cf.noise[k], batch.noise[k])
    for k, v in batch.nuisances.items():
        np.testing.assert_array_equal(cf.nuisances[k], v)


def test_counterfactual_keeps_the_pixel_noise(sim, batch):
    # a leaf that does not enter the image: images identical to the last bit
    cf = sim.counterfactual(batch, {"velocity_dispersion": 150.0})
    np.testing.assert_array_equal(cf.images, batch.images)
    # brighter galaxy: the same standard-normal draw, rescaled to the new pixel variance
    cf = sim.counterfactual(batch, {"log_luminosity": batch.properties["log_luminosity"] + 0.3})
    sky = np.array([sim.sky_sigma[b] for b in sim.bands])[None, :, None, None]

    def unit_noise(b):
        clean = sim.render(b.properties, b.nuisances, add_noise=False)
        return (b.images - clean) / np.sqrt(sky**2 + np.maximum(clean, 0) / sim.gain)

    np.testing.assert_allclose(unit_noise(cf), unit_noise(batch), atol=2e-3)


def test_do_luminosity_doubles_the_flux(sim, batch):
    cf = sim.counterfactual(
        batch, {"log_luminosity": batch.properties["log_luminosity"] + np.log10(2)}
    )
    np.testing.assert_allclose(cf.flux / batch.flux, 2.0, rtol=1e-12)
    clean_f = sim.render(batch.properties, batch.nuisances, add_noise=False)
    clean_cf = sim.render(cf.properties, cf.nuisances, add_noise=False)
    np.testing.assert_allclose(clean_cf, 2 * clean_f, rtol=1e-5, atol=1e-9)


def test_interventions_accept_quantities(sim, batch):
    cf = sim.counterfactual(batch, {"log_stellar_mass": 5e10 * u.M_sun})
    np.testing.assert_allclose(cf.properties["log_stellar_mass"], np.log10(5e10))


@pytest.mark.parametrize(
    ("interventions", "error"),
    [
        ({"dark_matter_fraction": 0.5}, UnknownNodeError),
        ({"log_stellar_mass": -1e10 * u.M_sun}, NonPhysicalValueError),
        ({"sersic_n": 0.0}, NonPhysicalValueError),
        ({"sersic_n": 7.0}, OutOfRangeError),
        ({"log_stellar_mass": np.full(5, 10.0)}, ShapeError),
        ({"age": np.nan}, NonPhysicalValueError),
    ],
)
def test_bad_interventions_raise_typed_errors(sim, batch, interventions, error):
    with pytest.raises(error):
        sim.counterfactual(batch, interventions)


def test_bad_constructor_and_sample_arguments(sim):
    with pytest.raises(InputValidationError):
        sim.sample(0)
    with pytest.raises(ShapeError):
        GalaxySimulator(image_size=4)
    with pytest.raises(LookupError):
        GalaxySimulator(bands=("u",))
    with pytest.raises(InputValidationError, match="redshift_range must be a"):
        GalaxySimulator(redshift_range=(0.1, 0.2, 0.3))
    with pytest.raises(InputValidationError, match="psf_fwhm_range must be a"):
        GalaxySimulator(psf_fwhm_range=0.8)
    with pytest.raises(InputValidationError, match="log_halo_mass_range must be increasing"):
        GalaxySimulator(log_halo_mass_range=(13.0, 11.0))


@pytest.fixture(scope="module")
def big():
    return GalaxySimulator(seed=5).sample(4000, seed=5, render=False)


def test_simulated_galaxies_are_physical(big):
    scores = violation_scores(big.physics_inputs())
    for name, s in scores.items():
        assert np.all(s == 0), name


def test_virial_scatter_is_the_stated_scatter(big):
    p = big.properties
    r = virial_residual(
        p["log_halo_mass"],
        p["log_stellar_mass"],
        p["log_gas_mass"],
        p["log_size"],
        p["sersic_n"],
        p["velocity_dispersion"],
    )
    # sigma^2 scatter 2 x 0.04 dex; a standard normal truncated at 3 has sd 0.98658;
    # sampling error of an sd is sd / sqrt(2N) ~ 0.0009: tolerance 5x that
    expected = 0.08 * 0.98658
    assert r.std() == pytest.approx(expected, abs=5 * expected / np.sqrt(2 * r.size))
    assert abs(r.mean()) < 5 * expected / np.sqrt(r.size)


def test_gas_fraction_slope_is_peeples_shankar(big):
    p = big.properties
    x = p["log_stellar_mass"]
    y = p["log_gas_mass"] - x
    slope = np.polyfit(x, y, 1)[0]
    # OLS standard error: 0.3 * 0.98658 / (std(x) sqrt(N)); tolerance 5 SE
    se = 0.3 * 0.98658 / (x.std() * np.sqrt(x.size))
    assert slope == pytest.approx(-0.48, abs=5 * se)


def test_shmr_median_matches_moster(big):
    p = big.properties
    resid = p["log_stellar_mass"] - R.moster13_shmr(p["log_halo_mass"])
    # symmetric noise: mean 0 within 5 standard errors (0.15 dex scatter)
    assert abs(resid.mean()) < 5 * 0.15 / np.sqrt(resid.size)


def test_quenched_fraction_rises_with_mass(big):
    p = big.properties
    q = R.quiescence_weight(p["log_stellar_mass"], p["log_sfr"]) > 0.5
    lo = q[p["log_stellar_mass"] < 9.8].mean()
    hi = q[p["log_stellar_mass"] > 10.8].mean()
    # Peng et al. 2010: f_q(10^9.8) ~ 0.15, f_q(10^10.8) ~ 0.8
    assert lo < 0.3 < 0.6 < hi
