"""Published galaxy scaling relations used as the simulator's mechanisms (numpy, z ≈ 0).

Each function returns the *median* relation; the simulator adds the quoted log-normal
scatter through explicit exogenous noise. Masses assume a Chabrier (2003) IMF.

References
----------
Moster, Naab & White 2013, MNRAS 428, 3121 — stellar-to-halo mass relation, eq. 2 and
    Table 1 (z = 0: log M1 = 11.590, N = 0.0351, beta = 1.376, gamma = 0.608; 0.15 dex scatter).
Peeples & Shankar 2011, MNRAS 417, 2962 — cold-gas fraction
    ``log10(M_gas/M_*) = -0.48 log10 M_* + 4.39``; scatter ~0.3 dex (cf. 0.31 dex,
    Zhang et al. 2009, MNRAS 397, 1243).
Speagle et al. 2014, ApJS 214, 15, eq. 28 — star-forming main sequence
    ``log SFR = (0.84 - 0.026 t) log M_* - (6.51 - 0.11 t)``, t = age of the Universe [Gyr];
    ~0.2 dex intrinsic scatter.
Brown et al. 2015, MNRAS 452, 2479 — gas fraction at fixed M_* tracks the sSFR offset
    (integrated Kennicutt–Schmidt law): we let half of a galaxy's gas excess (in dex)
    raise its SFR.
Peng et al. 2010, ApJ 721, 193 — mass quenching: quenched fraction
    ``f_q = 1 - exp(-M_*/p)``, ``p ≈ 10^10.6 M_sun`` (their Schechter M*).
Curti et al. 2020, MNRAS 491, 944, eqs. 2 and 5, Table 6 — fundamental metallicity relation
    ``12 + log(O/H) = Z0 - gamma/beta log10(1 + (M_*/M0(SFR))^-beta)``,
    ``log M0 = m0 + m1 log SFR``; Z0 = 8.779, m0 = 10.11, m1 = 0.56, gamma = 0.31,
    beta = 2.1; 0.054 dex scatter.
van der Wel et al. 2014, ApJ 788, 28, Table 1 (0 < z < 0.5 bin) — size–mass relations
    ``R_eff = A (M_*/5e10 M_sun)^alpha``: late types log A = 0.86, alpha = 0.25, sigma =
    0.16 dex; early types log A = 0.60, alpha = 0.75, sigma = 0.10 dex.
Freeman 1970 (exponential discs, n = 1); de Vaucouleurs 1948 (spheroids, n = 4).
Bell et al. 2003, ApJS 149, 289, Table 7 — colour–M/L relations ``log10 Upsilon_band =
    a + b (g - r)``: (a, b) = (-0.499, 1.519) in g, (-0.306, 1.097) in r,
    (-0.222, 0.864) in i; ~0.1 dex scatter.
Willmer 2018, ApJS 236, 47 — absolute AB magnitudes of the Sun: g 5.11, r 4.65, i 4.53.
Madau & Dickinson 2014, ARA&A 52, 415 — return fraction R = 0.41 for a Chabrier IMF.

The stellar age follows from an exponentially declining (or rising) star-formation
history that reproduces the galaxy's birthrate ``b = SFR T (1 - R) / M_*`` over a
formation time ``T`` (see :func:`mass_weighted_age`); the r-band stellar
mass-to-light ratio of that population is our own power-law approximation,
``log10 Upsilon_r = 0.45 + 1.2 log10(age / 10 Gyr) + 0.3 (Z - 8.69)``, tuned so that the
Bell et al. (2003) g−r ↔ Upsilon_r relation gives g−r ≈ 0.55 for main-sequence and
≈ 0.7 for quenched galaxies (solar 12 + log(O/H) = 8.69, Asplund et al. 2009).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from acie.galaxy.properties import AGE_OF_UNIVERSE_GYR

__all__ = [
    "BELL03",
    "FORMATION_TIME_GYR",
    "RETURN_FRACTION",
    "SOLAR_ABS_MAG_AB",
    "SOLAR_OH",
    "band_log_luminosity",
    "curti20_fmr",
    "g_minus_r",
    "gas_fraction_ps11",
    "log_mass_to_light_r",
    "mass_weighted_age",
    "moster13_shmr",
    "quenched_fraction_peng10",
    "quiescence_weight",
    "sersic_index",
    "size_vdw14",
    "speagle14_main_sequence",
]

SOLAR_OH = 8.69  # Asplund et al. 2009, ARA&A 47, 481
RETURN_FRACTION = 0.41  # Chabrier IMF, Madau & Dickinson 2014
FORMATION_TIME_GYR = 12.5  # star formation assumed to start ~1.3 Gyr after the Big Bang

#: Absolute AB magnitudes of the Sun (Willmer 2018, Table 3).
SOLAR_ABS_MAG_AB: dict[str, float] = {"g": 5.11, "r": 4.65, "i": 4.53}

#: Bell et al. (2003) Table 7, g−r colour: band -> (a, b) of log10 Upsilon = a + b (g−r).
BELL03: dict[str, tuple[float, float]] = {
    "g": (-0.499, 1.519),
    "r": (-0.306, 1.097),
    "i": (-0.222, 0.864),
}


def moster13_shmr(log_halo_mass):
    """Median ``log10 M_* / M_sun`` at z = 0 for ``log10 M_h / M_sun`` (Moster et al. 2013)."""
    log_m1, norm, beta, gamma = 11.590, 0.0351, 1.376, 0.608
    x = 10.0 ** (np.asarray(log_halo_mass, dtype=float) - log_m1)
    return log_halo_mass + np.log10(2.0 * norm) - np.log10(x**-beta + x**gamma)


def gas_fraction_ps11(log_stellar_mass):
    """Median ``log10 M_gas / M_*`` (Peeples & Shankar 2011)."""
    return -0.48 * np.asarray(log_stellar_mass, dtype=float) + 4.39


def speagle14_main_sequence(log_stellar_mass, t_gyr: float = AGE_OF_UNIVERSE_GYR):
    """Median ``log10 SFR / (M_sun/yr)`` on the main sequence (Speagle et al. 2014, eq. 28)."""
    return (0.84 - 0.026 * t_gyr) * np.asarray(log_stellar_mass, dtype=float) - (
        6.51 - 0.11 * t_gyr
    )


def quenched_fraction_peng10(log_stellar_mass, log_p: float = 10.6):
    """Mass-quenched fraction ``1 - exp(-M_*/p)`` (Peng et al. 2010)."""
    return -np.expm1(-(10.0 ** (np.asarray(log_stellar_mass, dtype=float) - log_p)))


def curti20_fmr(log_stellar_mass, log_sfr):
    """Median gas-phase ``12 + log10(O/H)`` from the FMR of Curti et al. (2020)."""
    z0, m0, m1, gamma, beta = 8.779, 10.11, 0.56, 0.31, 2.1
    log_m0 = m0 + m1 * np.asarray(log_sfr, dtype=float)
    return z0 - gamma / beta * np.log10(1.0 + 10.0 ** (-beta * (log_stellar_mass - log_m0)))


def quiescence_weight(
    log_stellar_mass, log_sfr, *, threshold_dex: float = 0.75, width_dex: float = 0.15
):
    """Smooth weight in [0, 1] that a galaxy is quiescent: 1 well below the main sequence.

    The transition sits ``threshold_dex`` below the Speagle et al. (2014) main sequence
    (a common cut for quiescence) with a logistic width of ``width_dex``.
    """
    from scipy.special import expit

    offset = np.asarray(log_sfr, dtype=float) - speagle14_main_sequence(log_stellar_mass)
    return expit(-(offset + threshold_dex) / width_dex)


def size_vdw14(log_stellar_mass, weight_quiescent):
    """Median ``log10 R_e / kpc`` and its scatter [dex] (van der Wel et al. 2014).

    The late- and early-type relations are mixed by the quiescence weight.
    """
    x = np.asarray(log_stellar_mass, dtype=float) - np.log10(5e10)
    w = np.asarray(weight_quiescent, dtype=float)
    late = 0.86 + 0.25 * x
    early = 0.60 + 0.75 * x
    return (1.0 - w) * late + w * early, (1.0 - w) * 0.16 + w * 0.10


def sersic_index(weight_quiescent):
    """Median ``log10 n``: exponential disc (n = 1) to de Vaucouleurs spheroid (n = 4)."""
    return np.asarray(weight_quiescent, dtype=float) * np.log10(4.0)


@lru_cache(maxsize=1)
def _age_table():
    # b(x) = x / (e^x - 1) for SFR ∝ exp(-t/tau), x = T/tau (x < 0: rising history);
    # mass-weighted age / T = 1 - 1/x + 1/(e^x - 1). Tabulated on a fine grid, inverted by
    # interpolation in log b (b is strictly decreasing in x).
    x = np.linspace(-60.0, 60.0, 48001)
    x[np.abs(x) < 1e-9] = 1e-9
    b = x / np.expm1(x)
    frac = 1.0 - 1.0 / x + 1.0 / np.expm1(x)
    order = np.argsort(np.log(b))
    return np.log(b)[order], frac[order]


def mass_weighted_age(log_stellar_mass, log_sfr, *, t_form_gyr: float = FORMATION_TIME_GYR):
    """Mass-weighted stellar age [Gyr] of the exponential history with the galaxy's birthrate.

    ``b = SFR T (1 - R) / M_*`` is the ratio of the current to the past-average SFR; the
    history ``SFR ∝ exp(-t / tau)`` over ``T`` has ``b = x / (e^x - 1)`` with ``x = T/tau``
    and mass-weighted age ``T (1 - 1/x + 1/(e^x - 1))``: ``T/2`` for constant star
    formation, approaching ``T`` for quenched and 0 for bursting galaxies.
    """
    log_b = (
        np.asarray(log_sfr, dtype=float)
        + np.log10(t_form_gyr * 1e9 * (1.0 - RETURN_FRACTION))
        - np.asarray(log_stellar_mass, dtype=float)
    ) * np.log(10.0)
    lb, frac = _age_table()
    return t_form_gyr * np.interp(log_b, lb, frac)


def log_mass_to_light_r(age_gyr, metallicity):
    """Population ``log10 Upsilon_r`` [M_sun/L_sun] from age and metallicity (see module doc)."""
    return (
        0.45
        + 1.2 * np.log10(np.asarray(age_gyr, dtype=float) / 10.0)
        + 0.3 * (np.asarray(metallicity, dtype=float) - SOLAR_OH)
    )


def g_minus_r(log_upsilon_r):
    """g−r colour [AB mag] of a population with ``log10 Upsilon_r`` (Bell et al. 2003 inverted)."""
    a, b = BELL03["r"]
    return (np.asarray(log_upsilon_r, dtype=float) - a) / b


def band_log_luminosity(log_luminosity_r, colour_gr, band: str):
    """``log10 L_band / L_sun,band`` from the r-band luminosity and the g−r colour.

    ``L_band / L_r = Upsilon_r / Upsilon_band`` at fixed stellar mass (Bell et al. 2003).
    """
    if band not in BELL03:
        from acie.errors import UnknownNameError

        raise UnknownNameError(f"unknown band {band!r}; known bands: {', '.join(BELL03)}")
    ar, br = BELL03["r"]
    ab, bb = BELL03[band]
    return np.asarray(log_luminosity_r, dtype=float) + (ar - ab) + (br - bb) * np.asarray(colour_gr)
