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
    samples.py       named catalogue samples (cluster_sim_a …): seeded simulator draws
    sensitivity.py   response of a sample's observable by analyst names (dm_mass, flux)
    plots.py         response curves, mixed-model fits, selection bias (300 dpi)

Names are imported lazily (statsmodels, astropy and matplotlib load on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ imports on first use, visible to type checkers and IDEs
    from acie.analysis.catalogue import CatalogueFormat, load_catalogue, save_catalogue
    from acie.analysis.formula import ParsedFormula, parse_formula
    from acie.analysis.hierarchical import HierarchicalFit, fit_hierarchical_model
    from acie.analysis.observables import (
        Observable,
        image_total_flux,
        model_flux,
        property_observable,
    )
    from acie.analysis.plots import (
        hierarchical_fit_figure,
        response_curve_figure,
        save_figure,
        selection_bias_figure,
    )
    from acie.analysis.response import (
        ResponseCurve,
        counterfactual_response,
        observational_response,
    )
    from acie.analysis.samples import list_samples, load_sample, sample_population
    from acie.analysis.selection import (
        CompletenessFunction,
        LinearFit,
        SelectionKind,
        apparent_magnitude,
        estimate_completeness,
        flux_limited,
        inverse_propensity_weights,
        mean_surface_brightness,
        photometry_frame,
        surface_brightness_limited,
        weighted_linear_fit,
    )
    from acie.analysis.sensitivity import sensitivity_analysis
    from acie.analysis.surveys import (
        MassLuminosityRelation,
        SurveySpec,
        random_surveys,
        simulate_survey_catalogue,
        true_mass_luminosity_relation,
    )

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
    # catalogues and named samples
    "list_samples": "samples",
    "load_sample": "samples",
    "sample_population": "samples",
    "sensitivity_analysis": "sensitivity",
    "CatalogueFormat": "catalogue",
    "load_catalogue": "catalogue",
    "save_catalogue": "catalogue",
    # plots
    "hierarchical_fit_figure": "plots",
    "response_curve_figure": "plots",
    "save_figure": "plots",
    "selection_bias_figure": "plots",
}

# a literal list, so that linters and type checkers read it (a test checks it equals _EXPORTS)
__all__ = [
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
    "list_samples",
    "load_catalogue",
    "load_sample",
    "mean_surface_brightness",
    "model_flux",
    "observational_response",
    "parse_formula",
    "photometry_frame",
    "property_observable",
    "random_surveys",
    "response_curve_figure",
    "sample_population",
    "save_catalogue",
    "save_figure",
    "selection_bias_figure",
    "sensitivity_analysis",
    "simulate_survey_catalogue",
    "surface_brightness_limited",
    "true_mass_luminosity_relation",
    "weighted_linear_fit",
]


def __getattr__(name: str) -> Any:
    """Import an exported name's module on first use (statsmodels, astropy, matplotlib)."""
    if name in _EXPORTS:
        module = importlib.import_module(f"acie.analysis.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'acie.analysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names, the lazily imported ones included."""
    return sorted(set(globals()) | set(__all__))
