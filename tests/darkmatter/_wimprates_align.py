"""Shared settings that align ACIE's conventions with wimprates 0.5 (see benchmarks/bench_dm_nuclear.py)."""

from __future__ import annotations

import math
import warnings

import astropy.units as u

from acie.darkmatter.halo_parameters import HaloParameters, get_halo_parameters


def wimprates_modules():
    """(wimprates, numericalunits), imported with their deprecation warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import numericalunits as nu
        import wimprates as wr
    return wr, nu


def aligned_halo_and_factor() -> tuple[HaloParameters, float, float]:
    """(halo with wimprates' v_E, wimprates' N_esc² normalisation, events/(t yr keV) per DRU)."""
    wr, nu = wimprates_modules()
    ve = wr.v_earth() / (nu.km / nu.s)
    h = get_halo_parameters("baxter2021").with_values(v_earth=ve * u.km / u.s)
    z = 544.0 / 238.0
    n_esc = math.erf(z) - 2 * z * math.exp(-z * z) / math.sqrt(math.pi)
    return h, n_esc**2, 1e3 * nu.year / nu.day
