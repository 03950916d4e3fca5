"""From deposited electron energy to the number of electron–hole pairs n_e.

Two models, both documented in ``docs/darkmatter.md``:

* ``"step"`` (default): n_e = 1 + floor((E − E_gap)/ε) for E ≥ E_gap, else 0
  (Essig et al., JHEP 05 (2016) 046, eq. 3.4; QCDark's ``d_rate_FanoQ`` bins the same way).
* ``"fano"``: n_e drawn from a Gaussian with mean μ = 1 + (E − E_gap)/ε − ½ (so that its
  mean over an ε-wide step matches the step model's) and variance F·μ, discretised to
  integers by integrating over [n − ½, n + ½), restricted to n ≥ 1 above the gap and
  renormalised. F is the material's Fano factor (e.g. 0.13 for Ge, 0.119 for Si).
  This is the usual Fano-smeared charge model of cryogenic Ge/Si searches (e.g. Durnford,
  Arnaud & Gerbier, PRD 98, 103013 (2018)); it is an approximation below ~10 pairs.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
from scipy.special import erf

from acie.darkmatter.units import as_positive_float, as_value
from acie.errors import NonPhysicalValueError, UnknownNameError, expected_got

__all__ = ["IONIZATION_MODELS", "material_ionization", "ne_probability", "ne_step"]

IONIZATION_MODELS = ("step", "fano")


def material_ionization(
    material: str, *, band_gap=None, pair_energy=None, fano=None
) -> tuple[float, float, float]:
    """(E_gap/eV, ε/eV, Fano) for ``material``; explicit values override the library's.

    Falls back to :func:`acie.darkmatter.materials.get_material` for values not given.
    """

    def library(key: str) -> float:
        from acie.darkmatter.materials import get_material

        return float(getattr(get_material(material), key))

    gap = (
        library("band_gap")
        if band_gap is None
        else as_positive_float(band_gap, u.eV, "band gap", allow_plain=True)
    )
    eps = (
        library("pair_energy")
        if pair_energy is None
        else as_positive_float(pair_energy, u.eV, "pair energy ε", allow_plain=True)
    )
    f = (
        library("fano")
        if fano is None
        else as_positive_float(fano, u.dimensionless_unscaled, "Fano factor")
    )
    return gap, eps, f


def ne_step(energy_ev: np.ndarray, band_gap_ev: float, pair_energy_ev: float) -> np.ndarray:
    """n_e = 1 + floor((E − E_gap)/ε) above the gap, 0 below (floats in eV → int array)."""
    e = np.asarray(energy_ev, dtype=float)
    if band_gap_ev <= 0 or pair_energy_ev <= 0:
        raise NonPhysicalValueError(
            expected_got("band gap and ε", "> 0 eV", (band_gap_ev, pair_energy_ev))
        )
    n = 1 + np.floor((e - band_gap_ev) / pair_energy_ev)
    return np.where(e >= band_gap_ev, n, 0).astype(int)


def ne_probability(
    energy, n_max: int, *, band_gap, pair_energy, fano: float = 0.0, model: str = "step"
) -> np.ndarray:
    """P(n_e = n | E) for n = 0 … n_max, shape (n_E, n_max + 1).

    Parameters
    ----------
    energy : Quantity ['energy'] or float array in eV
    n_max : int
    band_gap, pair_energy : Quantity ['energy'] or float in eV
    fano : float
        Fano factor (``model="fano"`` only).
    model : {"step", "fano"}
    """
    e = np.atleast_1d(as_value(energy, u.eV, "energy", allow_plain=True))
    gap = as_positive_float(band_gap, u.eV, "band gap", allow_plain=True)
    eps = as_positive_float(pair_energy, u.eV, "pair energy ε", allow_plain=True)
    if model not in IONIZATION_MODELS:
        raise UnknownNameError(
            expected_got("ionization model", f"one of {IONIZATION_MODELS}", model)
        )
    n = np.arange(n_max + 1)
    if model == "step":
        ne = ne_step(e, gap, eps)
        return (ne[:, None] == n[None, :]).astype(float)
    if fano <= 0:
        raise NonPhysicalValueError(expected_got("Fano factor", "> 0 for the fano model", fano))
    mu = 1.0 + (e - gap) / eps - 0.5
    sigma = np.sqrt(fano * np.maximum(mu, 1e-12))
    hi = 0.5 * (1 + erf((n[None, :] + 0.5 - mu[:, None]) / (math.sqrt(2) * sigma[:, None])))
    lo = 0.5 * (1 + erf((n[None, :] - 0.5 - mu[:, None]) / (math.sqrt(2) * sigma[:, None])))
    p = np.where(n[None, :] >= 1, hi - lo, 0.0)
    # all mass below n = 1 goes to n = 1 (a deposit above the gap makes at least one pair)
    p[:, 1] += np.where(n_max >= 1, lo[:, 1], 0.0)
    above = e >= gap
    p = np.where(above[:, None], p, 0.0)
    p[~above, 0] = 1.0
    return p
