"""Reference SCMs with answers known in closed form, for demos, tests and benchmarks.

:func:`galaxy_scm` is a small astrophysical SCM in the spirit of the
stellar-to-halo-mass relation: halo mass drives stellar mass and the chance of a
recent major merger; stellar mass and mergers drive the star-formation rate; stellar
mass and SFR set the r-band absolute magnitude and the g−r colour. The numbers are
illustrative round values (slope ≈ 1.4 of log M* on log M_h below the pivot, star-
forming main-sequence slope ≈ 0.8, solar absolute magnitude M_r,⊙ = 4.65 mag), not a
fit to a survey.

:func:`galaxy_interventional_means` gives E[node | do(log_stellar_mass = v)]
independently of any sampling: by linearity for the linear nodes, and by
Gauss–Hermite quadrature over the Gaussian halo mass for the merger probability and
the tanh colour term.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import special, stats

from acie.causal.mechanisms import AdditiveNoiseMechanism, FunctionalMechanism, LinearMechanism
from acie.causal.scm import StructuralCausalModel

__all__ = ["GALAXY_PARAMETERS", "galaxy_interventional_means", "galaxy_scm"]

#: Parameters of :func:`galaxy_scm` (plain floats; units in the comments of the fields).
GALAXY_PARAMETERS: dict[str, float] = {
    "halo_mean": 12.0,  # dex(solMass), log10 M_h
    "halo_sd": 0.4,  # dex
    "shmr_norm": 10.5,  # dex(solMass), log10 M* at the pivot halo mass
    "shmr_slope": 1.4,  # d log M* / d log M_h
    "mstar_sd": 0.3,  # dex, scatter of the SHMR
    "merger_logit0": -1.0,  # logit P(merger) at the pivot
    "merger_logit_slope": 3.0,  # per dex of halo mass
    "sfms_slope": 0.8,  # d log SFR / d log M*
    "merger_boost": 0.5,  # dex of SFR from a recent merger
    "sfr_sd": 0.3,  # dex
    "mag_sun_r": 4.65,  # mag, r-band absolute magnitude of the Sun
    "ml_norm": 0.3,  # dex, log10 (M/L) at log SFR = 0
    "ml_sfr_slope": -0.15,  # d log(M/L) / d log SFR
    "mag_sd": 0.3,  # mag
    "colour_norm": 0.25,  # mag
    "colour_amp": 0.5,  # mag
    "colour_pivot": 10.3,  # dex(solMass)
    "colour_sfr_slope": -0.2,  # mag per dex of SFR
    "colour_sd": 0.05,  # mag
}

GALAXY_UNITS = {
    "log_halo_mass": "dex(solMass)",
    "merger": "",
    "log_stellar_mass": "dex(solMass)",
    "log_sfr": "dex(solMass / yr)",
    "abs_mag_r": "mag",
    "colour_gr": "mag",
}


def galaxy_scm() -> StructuralCausalModel:
    """The halo → galaxy reference SCM (six nodes, one binary, one non-linear).

    Nodes (units): ``log_halo_mass`` [dex(solMass)], ``merger`` [0/1],
    ``log_stellar_mass`` [dex(solMass)], ``log_sfr`` [dex(solMass/yr)],
    ``abs_mag_r`` [mag], ``colour_gr`` [mag]. ``merger`` is a Bernoulli draw from a
    uniform noise and so is not invertible; every other node has additive noise.
    """
    p = GALAXY_PARAMETERS

    def merger(parents: Mapping[str, np.ndarray], u: np.ndarray) -> np.ndarray:
        logit = p["merger_logit0"] + p["merger_logit_slope"] * (
            parents["log_halo_mass"] - p["halo_mean"]
        )
        return (u < special.expit(logit)).astype(float)

    mechanisms = {
        "log_halo_mass": LinearMechanism(intercept=p["halo_mean"]),
        "merger": FunctionalMechanism(parents=("log_halo_mass",), function=merger),
        "log_stellar_mass": LinearMechanism(
            coefficients={"log_halo_mass": p["shmr_slope"]},
            intercept=p["shmr_norm"] - p["shmr_slope"] * p["halo_mean"],
        ),
        "log_sfr": LinearMechanism(
            coefficients={"log_stellar_mass": p["sfms_slope"], "merger": p["merger_boost"]},
            intercept=-p["sfms_slope"] * p["shmr_norm"],
        ),
        # M_r = M_sun - 2.5 log10(L) with log10 L = log10 M* - log10(M/L)
        "abs_mag_r": LinearMechanism(
            coefficients={"log_stellar_mass": -2.5, "log_sfr": 2.5 * p["ml_sfr_slope"]},
            intercept=p["mag_sun_r"] + 2.5 * p["ml_norm"],
        ),
        "colour_gr": AdditiveNoiseMechanism(
            parents=("log_stellar_mass", "log_sfr"),
            function=lambda q: (
                p["colour_norm"]
                + p["colour_amp"] * np.tanh(q["log_stellar_mass"] - p["colour_pivot"])
                + p["colour_sfr_slope"] * q["log_sfr"]
            ),
        ),
    }
    noise = {
        "log_halo_mass": stats.norm(0.0, p["halo_sd"]),
        "merger": stats.uniform(0.0, 1.0),
        "log_stellar_mass": stats.norm(0.0, p["mstar_sd"]),
        "log_sfr": stats.norm(0.0, p["sfr_sd"]),
        "abs_mag_r": stats.norm(0.0, p["mag_sd"]),
        "colour_gr": stats.norm(0.0, p["colour_sd"]),
    }
    return StructuralCausalModel(mechanisms=mechanisms, noise=noise, units=GALAXY_UNITS)


def galaxy_interventional_means(log_stellar_mass: float) -> dict[str, float]:
    """E[node | do(log_stellar_mass = v)] for every node of :func:`galaxy_scm`.

    Parameters
    ----------
    log_stellar_mass : float [dex(solMass)]
        The intervened value v.

    Returns
    -------
    dict of str to float
        Means in the node units. Exact up to the 60-point Gauss–Hermite quadrature
        of E[expit(a + b h)], whose error is far below 1e-10 here.
    """
    p = GALAXY_PARAMETERS
    v = float(log_stellar_mass)
    x, w = np.polynomial.hermite_e.hermegauss(60)  # probabilists' Hermite: weight e^{-x²/2}
    w = w / w.sum()
    h = p["halo_mean"] + p["halo_sd"] * x
    p_merger = float(
        np.sum(
            w * special.expit(p["merger_logit0"] + p["merger_logit_slope"] * (h - p["halo_mean"]))
        )
    )
    sfr = p["sfms_slope"] * (v - p["shmr_norm"]) + p["merger_boost"] * p_merger
    mag = p["mag_sun_r"] + 2.5 * p["ml_norm"] - 2.5 * v + 2.5 * p["ml_sfr_slope"] * sfr
    colour = (
        p["colour_norm"]
        + p["colour_amp"] * np.tanh(v - p["colour_pivot"])
        + p["colour_sfr_slope"] * sfr
    )
    return {
        "log_halo_mass": p["halo_mean"],
        "merger": p_merger,
        "log_stellar_mass": v,
        "log_sfr": sfr,
        "abs_mag_r": mag,
        "colour_gr": float(colour),
    }
