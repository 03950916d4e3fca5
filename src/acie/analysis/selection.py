"""Selection functions of flux- and surface-brightness-limited samples.

Also the inverse-propensity weights that undo the bias they cause in fitted relations.

A survey detects a galaxy with a probability that depends on its apparent magnitude
(flux-limited: the source of Malmquist bias) or on its mean surface brightness within
the half-light radius (surface-brightness-limited). Both are modelled by the logistic
completeness curve that injection–recovery tests measure,

    P(selected | x) = 1 / (1 + exp((x − x50) / w)),

with ``x`` the magnitude [mag] or surface brightness [mag arcsec⁻²], ``x50`` the 50 %
completeness limit and ``w`` the width [mag]. The function is either *known* (the
survey's published completeness) or *estimated* by a logistic regression of
detected/not-detected on ``x`` for injected sources (:func:`estimate_completeness`).

Weighting the selected galaxies by ``1 / P(selected | x)`` (Horvitz–Thompson) makes
weighted sums over the sample unbiased for sums over the parent population, so a
weighted least-squares fit recovers the parent relation; standard errors are the
heteroscedasticity-robust (sandwich) ones, as appropriate for weights that are not
precision weights. Weights explode where completeness is tiny: restrict the target
population to where ``P`` is not negligible, or cap the weights (``max_weight``, which
trades variance for a bias).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import expit

from acie.errors import (
    EstimationError,
    InputValidationError,
    NonPhysicalValueError,
    ShapeError,
    UnknownNameError,
    expected_got,
)

if TYPE_CHECKING:
    from acie.galaxy.batch import GalaxyBatch

__all__ = [
    "CompletenessFunction",
    "LinearFit",
    "SelectionKind",
    "apparent_magnitude",
    "estimate_completeness",
    "flux_limited",
    "inverse_propensity_weights",
    "mean_surface_brightness",
    "photometry_frame",
    "surface_brightness_limited",
    "weighted_linear_fit",
]

NANOMAGGY_ZERO_POINT = 22.5  # AB magnitude of 1 nanomaggy


class SelectionKind(StrEnum):
    """What a completeness function depends on."""

    FLUX_LIMITED = "flux-limited"
    SURFACE_BRIGHTNESS_LIMITED = "surface-brightness-limited"


_DEFAULT_COLUMN = {
    SelectionKind.FLUX_LIMITED: "mag_r",
    SelectionKind.SURFACE_BRIGHTNESS_LIMITED: "mu_e_r",
}
_UNIT = {
    SelectionKind.FLUX_LIMITED: "mag",
    SelectionKind.SURFACE_BRIGHTNESS_LIMITED: "mag / arcsec2",
}


@dataclass(frozen=True, kw_only=True)
class CompletenessFunction:
    """Logistic completeness ``P = 1 / (1 + exp((x − limit) / width))``.

    Attributes
    ----------
    kind : SelectionKind
    limit : float [mag or mag / arcsec²]
        50 % completeness.
    width : float [mag]
        Logistic width (> 0).
    column : str
        Catalogue column holding ``x``.
    limit_se, width_se : float
        Standard errors when estimated (0 when known).
    estimated : bool
    """

    kind: SelectionKind
    limit: float
    width: float
    column: str
    limit_se: float = 0.0
    width_se: float = 0.0
    estimated: bool = False

    def __post_init__(self) -> None:
        if not np.isfinite(self.limit):
            raise InputValidationError(expected_got("limit", "a finite magnitude", self.limit))
        if not (np.isfinite(self.width) and self.width > 0):
            raise InputValidationError(
                expected_got("width", "a positive number of magnitudes", self.width)
            )

    @property
    def unit(self) -> str:
        """Unit of ``x``."""
        return _UNIT[SelectionKind(self.kind)]

    def probability(self, values: Any) -> np.ndarray:
        """P(selected | x) for magnitudes (or surface brightnesses) ``values``."""
        x = np.asarray(values, dtype=float)
        return expit((self.limit - x) / self.width)

    def __call__(self, data: pd.DataFrame | Any) -> np.ndarray:
        """P(selected) for a catalogue (reads :attr:`column`) or an array of ``x``."""
        if isinstance(data, pd.DataFrame):
            if self.column not in data.columns:
                raise UnknownNameError(
                    f"the catalogue has no column {self.column!r}; the "
                    f"columns are: {', '.join(map(str, data.columns))}"
                )
            return self.probability(data[self.column].to_numpy(dtype=float))
        return self.probability(data)

    def sample(self, data: pd.DataFrame | Any, *, seed: int = 0) -> np.ndarray:
        """A Bernoulli draw of which objects are selected (boolean mask)."""
        p = self(data)
        return np.random.default_rng(seed).random(p.shape) < p


def flux_limited(
    limit_mag: float, *, width_mag: float = 0.2, column: str = "mag_r"
) -> CompletenessFunction:
    """Known completeness of a flux-limited sample (e.g. SDSS spectroscopy: r < 17.77)."""
    return CompletenessFunction(
        kind=SelectionKind.FLUX_LIMITED,
        limit=float(limit_mag),
        width=float(width_mag),
        column=column,
    )


def surface_brightness_limited(
    limit_mag_arcsec2: float, *, width_mag: float = 0.3, column: str = "mu_e_r"
) -> CompletenessFunction:
    """Known completeness of a surface-brightness-limited sample (mean μ within R_e)."""
    return CompletenessFunction(
        kind=SelectionKind.SURFACE_BRIGHTNESS_LIMITED,
        limit=float(limit_mag_arcsec2),
        width=float(width_mag),
        column=column,
    )


def estimate_completeness(
    values: Any,
    detected: Any,
    *,
    kind: SelectionKind | str = SelectionKind.FLUX_LIMITED,
    column: str | None = None,
) -> CompletenessFunction:
    """Fit the logistic completeness to injection–recovery data.

    Parameters
    ----------
    values : array-like, shape (n,) [mag or mag / arcsec²]
        Magnitudes (or surface brightnesses) of injected sources.
    detected : array-like of bool, shape (n,)
        Whether each was recovered.
    kind : SelectionKind or str
    column : str, optional
        Catalogue column of ``x`` (default ``"mag_r"`` / ``"mu_e_r"``).

    Returns
    -------
    CompletenessFunction
        With delta-method standard errors of the limit and width.
    """
    import statsmodels.api as sm

    kind = SelectionKind(kind)
    x = np.asarray(values, dtype=float)
    d = np.asarray(detected)
    if x.ndim != 1 or d.shape != x.shape:
        raise ShapeError(
            expected_got("values and detected", "1-D arrays of one length", (x.shape, d.shape))
        )
    if not np.all(np.isfinite(x)):
        raise InputValidationError(expected_got("values", "finite magnitudes", "NaN or inf"))
    if d.dtype != bool and not np.all(np.isin(d, (0, 1))):
        raise InputValidationError(
            expected_got("detected", "booleans or 0/1", np.unique(d)[:5].tolist())
        )
    d = d.astype(float)
    if d.min() == d.max():
        raise EstimationError(
            "every injected source was detected (or none was): the "
            "completeness curve cannot be fitted"
        )
    try:
        res = sm.Logit(d, sm.add_constant(x)).fit(disp=0)
    except Exception as exc:  # perfect separation, singular Hessian
        raise EstimationError(f"the completeness fit failed: {exc}") from exc
    b0, b1 = res.params
    if not b1 < 0:
        raise EstimationError(
            f"completeness must fall towards faint values; the fitted slope is {b1:.3g} per mag"
        )
    cov = res.cov_params()
    # limit = -b0/b1, width = -1/b1 (delta method)
    g_lim = np.array([-1.0 / b1, b0 / b1**2])
    g_wid = np.array([0.0, 1.0 / b1**2])
    return CompletenessFunction(
        kind=kind,
        limit=float(-b0 / b1),
        width=float(-1.0 / b1),
        column=column or _DEFAULT_COLUMN[kind],
        limit_se=float(np.sqrt(g_lim @ cov @ g_lim)),
        width_se=float(np.sqrt(g_wid @ cov @ g_wid)),
        estimated=True,
    )


def inverse_propensity_weights(
    probability: Any, *, max_weight: float | None = None, normalize: bool = True
) -> np.ndarray:
    """Horvitz–Thompson weights ``1 / P(selected)`` for the selected objects.

    Parameters
    ----------
    probability : array-like, shape (n,)
        Selection probabilities of the selected objects, in (0, 1].
    max_weight : float, optional
        Cap on the raw weights (bias for variance; None: no cap).
    normalize : bool
        Scale to mean 1 (does not change weighted fits; keeps sums readable).
    """
    p = np.asarray(probability, dtype=float)
    if p.ndim != 1:
        raise ShapeError(expected_got("probability", "a 1-D array", p.shape))
    if not np.all(np.isfinite(p)) or np.any(p <= 0) or np.any(p > 1):
        bad = p[~(np.isfinite(p) & (p > 0) & (p <= 1))][:3].tolist()
        raise NonPhysicalValueError(expected_got("selection probabilities", "in (0, 1]", bad))
    w = 1.0 / p
    if max_weight is not None:
        if not max_weight >= 1:
            raise InputValidationError(expected_got("max_weight", ">= 1", max_weight))
        w = np.minimum(w, max_weight)
    return w / w.mean() if normalize else w


@dataclass(frozen=True)
class LinearFit:
    """A (weighted) least-squares fit with robust standard errors.

    Attributes
    ----------
    formula : str
    params, std_errors : pandas.Series
    ci_low, ci_high : pandas.Series
    n : int
    effective_n : float
        Kish effective sample size of the weights.
    result : statsmodels RegressionResults
    """

    formula: str
    params: pd.Series
    std_errors: pd.Series
    ci_low: pd.Series
    ci_high: pd.Series
    n: int
    effective_n: float
    result: Any = field(repr=False, compare=False)


def weighted_linear_fit(
    formula: str, data: pd.DataFrame, *, weights: Any = None, level: float = 0.95
) -> LinearFit:
    """Least squares, naive or IPW-weighted, with HC1 sandwich standard errors.

    ``weights=None`` gives the naive fit. ``formula`` is a patsy formula such as
    ``"log_luminosity ~ log_stellar_mass"``.

    The formula may call the functions of :mod:`acie.analysis.formula` (``log`` is the
    natural logarithm, ``log10`` the base-10 one; also as ``np.log10``).
    """
    import patsy
    import statsmodels.api as sm

    from acie.analysis.formula import formula_environment

    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(expected_got("data", "a pandas DataFrame", type(data).__name__))
    if not 0 < level < 1:
        raise InputValidationError(expected_got("level", "in (0, 1)", level))
    try:
        y, x = patsy.dmatrices(
            formula,
            data,
            eval_env=formula_environment(),
            return_type="dataframe",
            NA_action="raise",
        )
    except patsy.PatsyError as exc:
        msg = str(exc)
        if "is not defined" in msg or "NameError" in msg:
            raise UnknownNameError(
                f"formula {formula!r} names a column the data lack: {msg}; "
                f"the columns are: {', '.join(map(str, data.columns))}"
            ) from None
        raise InputValidationError(
            f"cannot build the design matrix of {formula!r}: {msg}"
        ) from None
    n = y.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise ShapeError(expected_got("weights", f"shape ({n},)", w.shape))
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputValidationError(expected_got("weights", "finite and >= 0", "negative/NaN"))
    res = sm.WLS(y.iloc[:, 0], x, weights=w).fit(cov_type="HC1")
    ci = res.conf_int(alpha=1 - level)
    return LinearFit(
        formula=formula,
        params=res.params,
        std_errors=res.bse,
        ci_low=ci[0],
        ci_high=ci[1],
        n=int(n),
        effective_n=float(w.sum() ** 2 / np.sum(w**2)),
        result=res,
    )


def apparent_magnitude(flux: Any) -> np.ndarray:
    """AB magnitude of a flux in nanomaggies: ``22.5 − 2.5 log10 f`` [mag]."""
    from astropy import units as u

    f = flux.to_value(u.nmgy) if isinstance(flux, u.Quantity) else np.asarray(flux, dtype=float)
    if np.any(~np.isfinite(f)) or np.any(f <= 0):
        raise NonPhysicalValueError(
            expected_got("flux", "finite and > 0 nanomaggies", np.asarray(f)[~(f > 0)][:3].tolist())
        )
    return NANOMAGGY_ZERO_POINT - 2.5 * np.log10(f)


def mean_surface_brightness(magnitude: Any, half_light_radius_arcsec: Any) -> np.ndarray:
    """Mean surface brightness within the half-light radius [mag arcsec⁻²].

    Half the flux over ``π R_e²``, i.e. ``m + 2.5 log10(2 π R_e²)``.
    """
    m = np.asarray(magnitude, dtype=float)
    r = np.asarray(half_light_radius_arcsec, dtype=float)
    if np.any(~(r > 0)):
        raise NonPhysicalValueError(
            expected_got("half_light_radius_arcsec", "> 0", r[~(r > 0)][:3])
        )
    return m + 2.5 * np.log10(2.0 * np.pi * r**2)


def photometry_frame(batch: GalaxyBatch, *, band: str = "r") -> pd.DataFrame:
    """Properties, nuisances and model photometry of simulated galaxies.

    The photometry columns are ``mag_<band>`` [mag], ``re_arcsec`` [arcsec] and
    ``mu_e_<band>`` [mag arcsec⁻²].
    """
    if band not in batch.bands:
        raise UnknownNameError(
            f"unknown band {band!r}; the batch has bands: {', '.join(batch.bands)}"
        )
    frame = batch.to_dataframe()
    mag = apparent_magnitude(batch.flux[:, batch.bands.index(band)])
    re_arcsec = (
        10.0 ** batch.properties["log_size"]
        / (batch.angular_diameter_distance * 1e3)
        * (180.0 / np.pi)
        * 3600.0
    )
    frame[f"mag_{band}"] = mag
    frame["re_arcsec"] = re_arcsec
    frame[f"mu_e_{band}"] = mean_surface_brightness(mag, re_arcsec)
    frame.attrs["units"] = {
        f"mag_{band}": "mag",
        "re_arcsec": "arcsec",
        f"mu_e_{band}": "mag / arcsec2",
    }
    return frame
