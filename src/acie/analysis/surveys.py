"""Multi-survey galaxy catalogues from the causal galaxy simulator.

Each has survey-specific calibration offsets and measurement noise; the module also gives
the true relation they were drawn from.

Each survey observes its own seeded draw of the simulator's population (same physics,
same redshift range). Its catalogue reports the r-band luminosity ``luminosity``
[L_sun] (noise ``luminosity_noise_dex``, zero by default so that the regressor carries
no error and the fit is not attenuated) and a stellar-mass estimate ``mass`` [M_sun]
that is off by a survey-wide systematic ``mass_offset_dex`` (an SED-fitting or IMF
calibration), tilted by ``slope_offset`` per dex of luminosity about ``10^10 L_sun``,
and scattered by ``mass_noise_dex``::

    log10 mass = log10 M_* + offset_s + tilt_s (log10 L - 10) + noise_s e

The population relation of ``log M_*`` on ``log L`` is the least-squares line over a
large noise-free draw (:func:`true_mass_luminosity_relation`); a mixed model with
random intercepts (and slopes) by survey recovers it within its sampling error when
the offsets (and tilts) average to zero across surveys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from acie.errors import InputValidationError, expected_got

if TYPE_CHECKING:
    from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "MassLuminosityRelation",
    "SurveySpec",
    "random_surveys",
    "simulate_survey_catalogue",
    "true_mass_luminosity_relation",
]

#: Units of the catalogue columns (astropy spelling).
CATALOGUE_UNITS: dict[str, str] = {
    "survey_id": "",
    "mass": "solMass",
    "luminosity": "solLum",
    "redshift": "",
    "log_stellar_mass": "dex(solMass)",
    "log_luminosity": "dex(solLum)",
}
_PIVOT_LOG_L = 10.0


@dataclass(frozen=True, kw_only=True)
class SurveySpec:
    """One survey's size and systematics.

    Attributes
    ----------
    name : str
    n_galaxies : int
    mass_offset_dex : float [dex]
        Systematic offset of the survey's stellar-mass estimates.
    mass_noise_dex : float [dex]
        Per-galaxy scatter of the mass estimates.
    slope_offset : float [dex per dex]
        Tilt of the mass scale per dex of luminosity about 10^10 L_sun.
    luminosity_noise_dex : float [dex]
        Per-galaxy scatter of the luminosities (default 0: see the module docstring).
    """

    name: str
    n_galaxies: int
    mass_offset_dex: float = 0.0
    mass_noise_dex: float = 0.1
    slope_offset: float = 0.0
    luminosity_noise_dex: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.n_galaxies, (int, np.integer)) or self.n_galaxies < 1:
            raise InputValidationError(
                expected_got(
                    f"n_galaxies of survey {self.name!r}", "a positive integer", self.n_galaxies
                )
            )
        for attr in ("mass_noise_dex", "luminosity_noise_dex"):
            v = getattr(self, attr)
            if not (np.isfinite(v) and v >= 0):
                raise InputValidationError(
                    expected_got(f"{attr} of survey {self.name!r}", "a finite number >= 0 dex", v)
                )
        for attr in ("mass_offset_dex", "slope_offset"):
            if not np.isfinite(getattr(self, attr)):
                raise InputValidationError(
                    expected_got(f"{attr} of survey {self.name!r}", "finite", getattr(self, attr))
                )


def random_surveys(
    n_surveys: int,
    *,
    n_galaxies: int | Sequence[int] = 300,
    offset_sd_dex: float = 0.1,
    slope_sd: float = 0.0,
    noise_range_dex: tuple[float, float] = (0.05, 0.2),
    seed: int = 0,
) -> list[SurveySpec]:
    """Random survey specifications, named ``S00``, ``S01`` ….

    Offsets are drawn from N(0, offset_sd_dex), tilts from N(0, slope_sd) and noise levels
    uniformly in ``noise_range_dex``.
    """
    if not isinstance(n_surveys, (int, np.integer)) or n_surveys < 2:
        raise InputValidationError(expected_got("n_surveys", "an integer >= 2", n_surveys))
    lo, hi = noise_range_dex
    if not 0 <= lo <= hi:
        raise InputValidationError(
            expected_got("noise_range_dex", "0 <= lo <= hi", noise_range_dex)
        )
    sizes = np.broadcast_to(np.asarray(n_galaxies, dtype=int), (n_surveys,))
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0.0, offset_sd_dex, n_surveys)
    tilts = rng.normal(0.0, slope_sd, n_surveys) if slope_sd > 0 else np.zeros(n_surveys)
    noise = rng.uniform(lo, hi, n_surveys)
    return [
        SurveySpec(
            name=f"S{i:02d}",
            n_galaxies=int(sizes[i]),
            mass_offset_dex=float(offsets[i]),
            mass_noise_dex=float(noise[i]),
            slope_offset=float(tilts[i]),
        )
        for i in range(n_surveys)
    ]


def simulate_survey_catalogue(
    simulator: GalaxySimulator, surveys: Sequence[SurveySpec], *, seed: int = 0
) -> pd.DataFrame:
    """A catalogue of all surveys: one row per galaxy.

    Columns: ``survey_id`` (str), ``mass`` [M_sun], ``luminosity`` [L_sun], ``redshift``,
    and the simulator's truths ``log_stellar_mass`` [dex(M_sun)], ``log_luminosity``
    [dex(L_sun)]. ``frame.attrs["units"]`` holds the units; ``frame.attrs["surveys"]``
    the specs as dicts.
    """
    from dataclasses import asdict

    if not surveys:
        raise InputValidationError(expected_got("surveys", "a non-empty sequence", surveys))
    names = [s.name for s in surveys]
    if len(set(names)) != len(names):
        raise InputValidationError(expected_got("survey names", "unique", names))
    children = np.random.SeedSequence(seed).spawn(2 * len(surveys))
    parts = []
    for i, spec in enumerate(surveys):
        sim_seed = int(children[2 * i].generate_state(1)[0])
        batch = simulator.sample(spec.n_galaxies, seed=sim_seed, render=False)
        rng = np.random.default_rng(children[2 * i + 1])
        log_m = batch.properties["log_stellar_mass"]
        log_l = batch.properties["log_luminosity"]
        log_l_obs = log_l + spec.luminosity_noise_dex * rng.standard_normal(log_l.size)
        log_m_obs = (
            log_m
            + spec.mass_offset_dex
            + spec.slope_offset * (log_l - _PIVOT_LOG_L)
            + spec.mass_noise_dex * rng.standard_normal(log_m.size)
        )
        parts.append(
            pd.DataFrame(
                {
                    "survey_id": spec.name,
                    "mass": 10.0**log_m_obs,
                    "luminosity": 10.0**log_l_obs,
                    "redshift": batch.nuisances["redshift"],
                    "log_stellar_mass": log_m,
                    "log_luminosity": log_l,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs["units"] = dict(CATALOGUE_UNITS)
    frame.attrs["surveys"] = [asdict(s) for s in surveys]
    return frame


@dataclass(frozen=True)
class MassLuminosityRelation:
    """The population least-squares line ``log10 M_* = intercept + slope log10 L_r``.

    Attributes
    ----------
    slope : float [dex per dex]
        Same in natural logs.
    intercept : float [dex(M_sun)]
        In log10; ``intercept_ln = intercept · ln 10`` for ``log(mass) ~ log(luminosity)``
        with natural logs (the R convention of :func:`fit_hierarchical_model`).
    slope_se, intercept_se : float
        Their own sampling errors (from the size of the draw).
    n : int
    """

    slope: float
    intercept: float
    slope_se: float
    intercept_se: float
    n: int

    @property
    def intercept_ln(self) -> float:
        """Intercept of ``ln M = a + b ln L`` [ln(M_sun)]."""
        return self.intercept * np.log(10.0)


def true_mass_luminosity_relation(
    simulator: GalaxySimulator, *, n: int = 200_000, seed: int = 12345
) -> MassLuminosityRelation:
    """Least-squares line of the simulator's noise-free ``log M_*`` on ``log L_r``.

    Fitted over a large seeded draw, with its own, small, heteroscedasticity-robust
    sampling error.
    """
    import statsmodels.api as sm

    if not isinstance(n, (int, np.integer)) or n < 100:
        raise InputValidationError(expected_got("n", "an integer >= 100", n))
    batch = simulator.sample(n, seed=seed, render=False)
    x = sm.add_constant(batch.properties["log_luminosity"])
    res = sm.OLS(batch.properties["log_stellar_mass"], x).fit(cov_type="HC1")
    return MassLuminosityRelation(
        slope=float(res.params[1]),
        intercept=float(res.params[0]),
        slope_se=float(res.bse[1]),
        intercept_se=float(res.bse[0]),
        n=int(n),
    )
