"""acie.analysis: the analyst's toolkit on top of the causal core and the galaxy simulator.

Modules::

    observables.py   what is measured on each galaxy: image flux, model flux, a property
    response.py      response of an observable to a latent property: exact
                     counterfactual finite differences, observational EIF estimates
    formula.py       lme4-style formulas ("y ~ x + (1 + x | g)"): parsing, allowed functions
                     (log is natural, log10 is base 10)
    hierarchical.py  mixed-effects fits of such formulas by statsmodels MixedLM
    surveys.py       multi-survey catalogues from the simulator, and their true relation
    selection.py     flux- and surface-brightness-limited completeness, IPW, weighted fits
    catalogue.py     load/save catalogues: CSV, FITS (astropy), Parquet (pyarrow)
    plots.py         response curves, mixed-model fits, selection bias (300 dpi)

Names are imported lazily (statsmodels, astropy and matplotlib load on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # response of an observable to a latent property
    "Observable": "observables",
    "ResponseCurve": "response",
    "counterfactual_response": "response",
    "image_total_flux": "observables",
    "model_flux": "observables",
    "observational_response": "response",
    "property_observable": "observables",
    # hierarchical fits and survey catalogues
    "HierarchicalFit": "hierarchical",
    "ParsedFormula": "formula",
    "fit_hierarchical_model": "hierarchical",
    "parse_formula": "formula",
    "MassLuminosityRelation": "surveys",
    "SurveySpec": "surveys",
    "random_surveys": "surveys",
    "simulate_survey_catalogue": "surveys",
    "true_mass_luminosity_relation": "surveys",
    # selection
    "CompletenessFunction": "selection",
    "LinearFit": "selection",
    "SelectionKind": "selection",
    "apparent_magnitude": "selection",
    "estimate_completeness": "selection",
    "flux_limited": "selection",
    "inverse_propensity_weights": "selection",
    "mean_surface_brightness": "selection",
    "photometry_frame": "selection",
    "surface_brightness_limited": "selection",
    "weighted_linear_fit": "selection",
    # catalogues
    "CatalogueFormat": "catalogue",
    "load_catalogue": "catalogue",
    "save_catalogue": "catalogue",
    # plots
    "hierarchical_fit_figure": "plots",
    "response_curve_figure": "plots",
    "save_figure": "plots",
    "selection_bias_figure": "plots",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"acie.analysis.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'acie.analysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
