"""Named samples (acie.analysis.samples) and the analyst-named sensitivity analysis."""

from __future__ import annotations

import numpy as np
import pytest

from acie.analysis import load_sample, sample_population, sensitivity_analysis
from acie.analysis.observables import model_flux
from acie.analysis.response import counterfactual_response
from acie.analysis.samples import SAMPLES, list_samples
from acie.errors import InputValidationError, OutOfRangeError, UnknownNameError


def test_list_samples_names_the_registry():
    table = list_samples()
    assert list(table["name"]) == list(SAMPLES)
    assert "cluster_sim_a" in set(table["name"])
    assert (table["n_galaxies"] == 300).all()


def test_load_sample_is_reproducible_and_carries_units():
    a, again = load_sample("cluster_sim_a"), load_sample("cluster_sim_a")
    assert a.equals(again)
    assert len(a) == 300
    units = a.attrs["units"]
    assert units["dm_mass"] == "solMass"
    assert units["flux"] == "nmgy"
    assert units["log_halo_mass"] == "dex(solMass)"
    assert set(units) == set(a.columns)
    assert a.attrs["sample"]["seed"] == SAMPLES["cluster_sim_a"].seed
    # the rows are the population's galaxies, in order
    _sim, pop = sample_population("cluster_sim_a")
    np.testing.assert_array_equal(a["log_halo_mass"], pop.properties["log_halo_mass"])
    np.testing.assert_allclose(a["dm_mass"], 10 ** pop.properties["log_halo_mass"], rtol=1e-12)
    np.testing.assert_array_equal(a["flux"], pop.flux[:, pop.bands.index("r")])
    # the survey's mass estimate: offset + scatter about the true stellar mass
    resid = np.log10(a["mass"]) - a["log_stellar_mass"]
    spec = SAMPLES["cluster_sim_a"].survey
    assert resid.mean() == pytest.approx(spec.mass_offset_dex, abs=4 * spec.mass_noise_dex / 17)
    assert resid.std(ddof=1) == pytest.approx(spec.mass_noise_dex, rel=0.15)
    assert not a.equals(load_sample("cluster_sim_b"))


def test_unknown_sample_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="cluster_sim_a"):
        load_sample("cluster_sim_z")


def test_sensitivity_is_counterfactual_response_of_the_rows():
    data = load_sample("cluster_sim_a")
    rows = data[data["redshift"] < 0.2]
    grid = [11.5, 12.0, 12.5]
    curve = sensitivity_analysis(
        rows, target_var="flux", intervention_var="dm_mass", epsilon=0.1, grid=grid
    )
    sim, pop = sample_population("cluster_sim_a")
    ref = counterfactual_response(
        sim,
        pop[rows["galaxy_id"].to_numpy()],
        treatment="log_halo_mass",
        observable=model_flux("r"),
        grid=np.array(grid),
        epsilon=0.1,
    )
    np.testing.assert_array_equal(curve.derivative, ref.derivative)
    np.testing.assert_array_equal(curve.derivative_se, ref.derivative_se)
    assert curve.n == len(rows)
    # the SHMR bends: the flux responds more steeply below the pivot than above it
    assert curve.derivative[0] > curve.derivative[-1] + 5 * curve.derivative_se.max()


def test_default_grid_spans_the_rows_and_stays_valid():
    data = load_sample("cluster_sim_b")
    curve = sensitivity_analysis(data, target_var="luminosity", intervention_var="stellar_mass")
    lo, hi = np.percentile(data["log_stellar_mass"], [10, 90])
    assert curve.grid.size == 9
    assert curve.grid[0] == pytest.approx(lo)
    assert curve.grid[-1] == pytest.approx(hi)
    # luminosity follows stellar mass through the mass-to-light ratio: slope near 1
    assert np.all(np.abs(curve.derivative - 1.0) < 0.3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"target_var": "colour"}, UnknownNameError, "unknown target variable"),
        ({"intervention_var": "dark_energy"}, UnknownNameError, "unknown intervention"),
        ({"epsilon": -0.1}, InputValidationError, "epsilon"),
        ({"grid": [9.0, 12.0]}, OutOfRangeError, "validity range"),
    ],
)
def test_bad_arguments_are_typed_errors(kwargs, error, match):
    args = {"target_var": "flux", "intervention_var": "dm_mass", "epsilon": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        sensitivity_analysis(load_sample("cluster_sim_a").head(20), **args)


def test_rows_must_come_from_one_sample():
    import pandas as pd

    both = pd.concat([load_sample("cluster_sim_a"), load_sample("cluster_sim_b")])
    with pytest.raises(InputValidationError, match="one sample"):
        sensitivity_analysis(both, target_var="flux", intervention_var="dm_mass")
    with pytest.raises(InputValidationError, match="galaxy_id"):
        sensitivity_analysis(
            both.drop(columns="galaxy_id"), target_var="flux", intervention_var="dm_mass"
        )
    bad = load_sample("cluster_sim_a").head(3).assign(galaxy_id=[0, 1, 300])
    with pytest.raises(InputValidationError, match=r"0\.\.299"):
        sensitivity_analysis(bad, target_var="flux", intervention_var="dm_mass")


def test_mixed_fit_of_the_cluster_sim_surveys_reaches_lme4s_optimum():
    """Regression: statsmodels' CG stopped at its default gtol 1e-5, 3.9e-4 short in the
    survey variance. Reference: R 4.2.2, lme4 1.1-31, ``lmer(log(mass) ~ log(luminosity)
    + (1 | survey_id))`` on the six samples (REML); its theta 0.4905624 is also the
    minimum of lme4's deviance function found by ``optimize(tol = 1e-12)``."""
    import pandas as pd

    from acie.analysis import fit_hierarchical_model

    data = pd.concat([load_sample(n) for n in SAMPLES], ignore_index=True)
    fit = fit_hierarchical_model("log(mass) ~ log(luminosity) + (1 | survey_id)", data)
    np.testing.assert_allclose(fit.fixed_effects["estimate"], [-2.945109, 1.168503], rtol=1e-6)
    vc = fit.variance_components["estimate"]
    assert vc["survey_id Intercept Var"] == pytest.approx(0.04810525, rel=1e-5)
    assert vc["Residual Var"] == pytest.approx(0.19989591, rel=1e-5)


def test_sample_images_render_the_rows_as_the_simulator_does():
    from acie.analysis.samples import sample_images

    rows = load_sample("cluster_sim_c").iloc[[5, 2]]
    images = sample_images(rows)
    assert images.shape == (2, 3, 64, 64)  # the shipped model's input
    sim, pop = sample_population("cluster_sim_c")
    again = sim.counterfactual(pop[[5, 2]], {}, render=True).images
    np.testing.assert_array_equal(images, again)
    # the rendered flux is the catalogue's model flux (plus pixel noise, minus the stamp's wings)
    r_flux = images[:, 1].sum(axis=(1, 2))
    np.testing.assert_allclose(r_flux, rows["flux"].to_numpy(), rtol=0.15)
