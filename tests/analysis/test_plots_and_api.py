"""Figures are written at 300 dpi with labelled axes; the public surface is pinned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import acie.analysis as analysis
from acie.analysis import (
    counterfactual_response,
    fit_hierarchical_model,
    flux_limited,
    hierarchical_fit_figure,
    inverse_propensity_weights,
    model_flux,
    photometry_frame,
    response_curve_figure,
    save_figure,
    selection_bias_figure,
    weighted_linear_fit,
)
from acie.errors import InputValidationError
from acie.galaxy.simulator import GalaxySimulator


def _png_size(path):
    from matplotlib.image import imread

    return imread(path).shape


def _labels(fig):
    return [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes]


@pytest.fixture(scope="module")
def batch():
    return GalaxySimulator(image_size=32, bands=("r",), seed=0).sample(3000, seed=3, render=False)


def test_response_curve_figure(tmp_path, batch):
    sim = GalaxySimulator(image_size=32, bands=("r",), seed=0)
    curve = counterfactual_response(
        sim,
        batch[:200],
        treatment="log_halo_mass",
        observable=model_flux("r"),
        grid=[11.5, 12.0, 12.5],
        epsilon=1e-3,
    )
    fig = response_curve_figure(curve, reference=([11.5, 12.5], [1.0, 0.4]))
    path = save_figure(fig, tmp_path / "curve.png")
    _, w = _png_size(path)[:2]
    assert w > 6.0 * 300 * 0.8  # 6.4 in wide at 300 dpi (tight bbox trims a little)
    labels = _labels(fig)
    assert "[dex(solMass)]" in labels[1][0]
    assert "[dex(nmgy)]" in labels[0][1]
    assert [p.name for p in tmp_path.iterdir()] == ["curve.png"]


def test_hierarchical_and_selection_figures(tmp_path, batch):
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(6), 50)
    x = rng.normal(size=g.size)
    data = pd.DataFrame(
        {"y": 1 + 2 * x + rng.normal(0, 0.5, 6)[g] + rng.normal(0, 0.3, g.size), "x": x, "g": g}
    )
    fit = fit_hierarchical_model("y ~ x + (1 | g)", data)
    fig = hierarchical_fit_figure(fit, x_unit="mag", y_unit="dex")
    assert save_figure(fig, tmp_path / "mixed.pdf").stat().st_size > 1000
    assert "[mag]" in _labels(fig)[0][0]

    frame = photometry_frame(batch)
    c = flux_limited(19.5)
    sel = frame[c.sample(frame, seed=0)]
    fits = {
        "naive": weighted_linear_fit("log_luminosity ~ log_stellar_mass", sel),
        "IPW": weighted_linear_fit(
            "log_luminosity ~ log_stellar_mass", sel, weights=inverse_propensity_weights(c(sel))
        ),
    }
    fig = selection_bias_figure(
        frame,
        sel,
        c,
        x="log_stellar_mass",
        y="log_luminosity",
        fits=fits,
        units={"log_stellar_mass": "dex(solMass)"},
    )
    save_figure(fig, tmp_path / "sel.png")
    assert "[mag]" in _labels(fig)[0][0]
    with pytest.raises(InputValidationError, match=r"\.png or \.pdf"):
        save_figure(fig, tmp_path / "sel.jpg")


def test_public_surface():
    assert analysis.__all__ == sorted(
        [
            "CatalogueFormat",
            "CompletenessFunction",
            "HierarchicalFit",
            "LinearFit",
            "MassLuminosityRelation",
            "Observable",
            "ParsedFormula",
            "ResponseCurve",
            "SelectionKind",
            "SurveySpec",
            "apparent_magnitude",
            "counterfactual_response",
            "estimate_completeness",
            "fit_hierarchical_model",
            "flux_limited",
            "hierarchical_fit_figure",
            "image_total_flux",
            "inverse_propensity_weights",
            "load_catalogue",
            "mean_surface_brightness",
            "model_flux",
            "observational_response",
            "parse_formula",
            "photometry_frame",
            "property_observable",
            "random_surveys",
            "response_curve_figure",
            "save_catalogue",
            "save_figure",
            "selection_bias_figure",
            "simulate_survey_catalogue",
            "surface_brightness_limited",
            "true_mass_luminosity_relation",
            "weighted_linear_fit",
            # named samples and the analyst-named sensitivity analysis (ACIEr's engine side)
            "list_samples",
            "load_sample",
            "sample_population",
            "sensitivity_analysis",
        ]
    )
    for name in analysis.__all__:
        assert getattr(analysis, name) is not None
    with pytest.raises(AttributeError):
        analysis.nonexistent  # noqa: B018
