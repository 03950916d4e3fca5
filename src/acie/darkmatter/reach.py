"""Cross-section reach: upper limits from counts, as curves over dark-matter mass.

Counting experiment: n_obs events observed, b expected background events (known), signal
s = σ · N₁(m), with N₁ the expected signal count per unit cross-section for the
exposure, threshold and efficiency. The σ upper limit is s_up / N₁(m). Methods for s_up:

* ``"poisson"`` — classical background-free Poisson limit: P(n ≤ n_obs | s_up) = 1 − CL,
  i.e. s_up = ½ χ²_{CL}(2(n_obs + 1)) (2.303 for n_obs = 0 at 90 % CL). Background ignored
  (conservative).
* ``"fc"`` — Feldman & Cousins, PRD 57, 3873 (1998): unified likelihood-ratio-ordered
  Neyman belt for a Poisson signal with known background, built on a fine grid of s.
* ``"cls"`` — the CLs method (A. L. Read, J. Phys. G 28, 2693 (2002)) for a single
  counting bin: CLs(s) = P(n ≤ n_obs | s + b) / P(n ≤ n_obs | b) = 1 − CL.

Projected reach: when ``n_obs`` is not given, it is set to the median background-only
outcome, the median of Poisson(b) (0 for b = 0), i.e. the median expected limit of an
experiment that sees only its background. Pass ``n_obs`` to set a limit from data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
from scipy import optimize, stats

from acie.darkmatter import electron, nuclear
from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.halo_parameters import HaloParameters
from acie.darkmatter.table_range import DEFAULT_WARN_FRACTION
from acie.darkmatter.units import as_float, as_positive_float, as_value
from acie.errors import InputValidationError, NonPhysicalValueError, UnknownNameError, expected_got

__all__ = [
    "LIMIT_METHODS",
    "ReachCurve",
    "cls_upper_limit",
    "electron_reach",
    "f2_uncertainty_range",
    "feldman_cousins_interval",
    "median_background_outcome",
    "nuclear_reach",
    "poisson_upper_limit",
    "signal_upper_limit",
]

LIMIT_METHODS = ("poisson", "fc", "cls")


def _check(n_obs: int, background: float, cl: float) -> tuple[int, float, float]:
    if int(n_obs) != n_obs or n_obs < 0:
        raise NonPhysicalValueError(expected_got("observed events", "an integer >= 0", n_obs))
    if not np.isfinite(background) or background < 0:
        raise NonPhysicalValueError(
            expected_got("expected background", "a finite number >= 0", background)
        )
    if not 0 < cl < 1:
        raise NonPhysicalValueError(expected_got("confidence level", "in (0, 1)", cl))
    return int(n_obs), float(background), float(cl)


def poisson_upper_limit(n_obs: int = 0, cl: float = 0.9) -> float:
    """Classical Poisson upper limit on the mean (no background), events."""
    n, _, c = _check(n_obs, 0.0, cl)
    return 0.5 * float(stats.chi2.ppf(c, 2 * (n + 1)))


def feldman_cousins_interval(
    n_obs: int,
    background: float = 0.0,
    cl: float = 0.9,
    *,
    step: float = 0.005,
    s_max: float | None = None,
) -> tuple[float, float]:
    """Feldman–Cousins confidence interval [s_lo, s_up] for a Poisson signal with known background.

    The belt is built on the grid s = 0, step, 2·step, … (the upper end is accurate to ``step``).
    """
    n, b, c = _check(n_obs, background, cl)
    s_max = s_max if s_max is not None else n + 5.0 * np.sqrt(n + b + 1.0) + 10.0
    s = np.arange(0.0, s_max + step, step)
    n_max = int(s_max + b + 12.0 * np.sqrt(s_max + b + 1.0) + 20)
    k = np.arange(n_max + 1)
    p = stats.poisson.pmf(k[None, :], (s[:, None] + b))
    s_best = np.maximum(k - b, 0.0)
    p_best = stats.poisson.pmf(k, s_best + b)
    ratio = p / p_best[None, :]
    order = np.argsort(-ratio, axis=1, kind="stable")
    p_sorted = np.take_along_axis(p, order, axis=1)
    cum = np.cumsum(p_sorted, axis=1)
    # number of n values accepted: the smallest prefix whose probability reaches CL
    n_acc = np.argmax(cum >= c, axis=1) + 1
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(k.size)[None, :].repeat(s.size, 0), axis=1)
    accepted = ranks[:, n] < n_acc
    if not accepted.any():
        return 0.0, 0.0
    inside = s[accepted]
    return float(inside.min()) if inside.min() > 0 else 0.0, float(inside.max())


def cls_upper_limit(n_obs: int, background: float = 0.0, cl: float = 0.9) -> float:
    """CLs upper limit on the signal mean for one counting bin with known background, events."""
    n, b, c = _check(n_obs, background, cl)
    p_b = stats.poisson.cdf(n, b)

    def f(s: float) -> float:
        return stats.poisson.cdf(n, s + b) / p_b - (1.0 - c)

    hi = poisson_upper_limit(n, c) + 1.0
    while f(hi) > 0:
        hi *= 2.0
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-10, rtol=1e-12))


def median_background_outcome(background: float) -> int:
    """Median of Poisson(background): the ``n_obs`` of a projected (median expected) limit."""
    _, b, _ = _check(0, background, 0.5)
    return int(stats.poisson.median(b)) if b > 0 else 0


def signal_upper_limit(
    n_obs: int | None = 0, background: float = 0.0, cl: float = 0.9, method: str = "poisson"
) -> float:
    """Upper limit on the expected signal count with the named method (see module docstring).

    ``n_obs=None`` uses :func:`median_background_outcome`.
    """
    if n_obs is None:
        n_obs = median_background_outcome(background)
    if method == "poisson":
        return poisson_upper_limit(n_obs, cl)
    if method == "fc":
        return feldman_cousins_interval(n_obs, background, cl)[1]
    if method == "cls":
        return cls_upper_limit(n_obs, background, cl)
    raise UnknownNameError(expected_got("limit method", f"one of {LIMIT_METHODS}", method))


@dataclass(frozen=True, kw_only=True)
class ReachCurve:
    """A cross-section upper-limit (reach) curve.

    Attributes
    ----------
    mass : Quantity ['mass'-energy], (n_m,)
    cross_section : Quantity ['area'], (n_m,)
        Upper limit on σ̄e (electron) or σ_n (nuclear); ``inf`` where no signal is expected.
    signal_limit : float
        Upper limit on the signal count s_up.
    channel, method : str
    cl : float
    settings : dict
        Exposure, threshold, background… (units in the keys).
    """

    mass: u.Quantity
    cross_section: u.Quantity
    signal_limit: float
    channel: str
    method: str
    cl: float
    settings: dict = field(default_factory=dict)

    def as_rows(self) -> list[dict[str, Any]]:
        """Rows ``{"mass_MeV": …, "cross_section_cm2": …}`` for CSV/JSON output."""
        return [
            {"mass_MeV": float(m), "cross_section_cm2": float(s)}
            for m, s in zip(
                self.mass.to_value(u.MeV), self.cross_section.to_value(u.cm**2), strict=True
            )
        ]


def _exposure(exposure) -> float:
    return as_positive_float(exposure, u.kg * u.yr, "exposure")


def _background_events(background, exposure_kgyr: float) -> float:
    if isinstance(background, u.Quantity) and not background.unit.is_equivalent(u.one):
        return as_float(background, 1 / (u.kg * u.yr), "background rate") * exposure_kgyr
    return as_float(background, u.one, "background")


def electron_reach(
    table: FormFactorTable,
    masses,
    exposure,
    *,
    ne_threshold: int = 1,
    ne_bin: int | None = None,
    efficiency: float = 1.0,
    n_obs: int | None = None,
    background=0.0,
    cl: float = 0.9,
    method: str = "poisson",
    mediator="heavy",
    halo: HaloParameters | str | None = None,
    band_gap=None,
    pair_energy=None,
    fano=None,
    ionization: str = "step",
    screening: bool | str = False,
    energy_threshold=None,
    warn_beyond: float | None = DEFAULT_WARN_FRACTION,
) -> ReachCurve:
    """σ̄e reach over masses for an electron-recoil counting experiment.

    Parameters
    ----------
    table : FormFactorTable
    masses : Quantity ['mass'], (n_m,)
    exposure : Quantity ['mass' × 'time'], e.g. ``1 * u.kg * u.yr``
    ne_threshold : int
        Count events with n_e ≥ this (ignored if ``ne_bin`` is given).
    ne_bin : int, optional
        Count only events with exactly this n_e.
    efficiency : float
        Overall signal efficiency in (0, 1].
    n_obs : int, optional
        Observed events; default the median background-only outcome (projected reach).
    background : float or Quantity ['1/(mass time)']
        Known expected background: events, or a rate multiplied by the exposure.
    cl : float
    method : {"poisson", "fc", "cls"}
    energy_threshold : Quantity ['energy'], optional
        Count only deposits with E ≥ this (the bin holding it is split at it), in every
        n_e ≥ 1 bin; replaces ``ne_threshold``.
    warn_beyond : float or None
        Warn when the estimated fraction of the rate beyond the table's q/E range exceeds
        it; the fractions are in ``settings["beyond_table_fraction"]`` (None when
        ``warn_beyond`` is None: not computed).
    """
    expo = _exposure(exposure)
    if not 0 < efficiency <= 1:
        raise NonPhysicalValueError(expected_got("efficiency", "in (0, 1]", efficiency))
    if ne_bin is None and ne_threshold < 1:
        raise InputValidationError(expected_got("ne_threshold", "an integer >= 1", ne_threshold))
    b = _background_events(background, expo)
    n_obs = median_background_outcome(b) if n_obs is None else n_obs
    s_up = signal_upper_limit(n_obs, b, cl, method)
    sigma_ref = 1e-37 * u.cm**2
    gap, eps, _ = electron.material_ionization(
        table.material, band_gap=band_gap, pair_energy=pair_energy, fano=fano
    )
    n_max = int(1 + np.floor((table.energy_eV[-1] - gap) / eps)) + 2
    e_range = None
    if energy_threshold is not None:
        if ne_bin is not None:
            raise InputValidationError("give either energy_threshold or ne_bin, not both")
        e_thr = as_float(energy_threshold, u.eV, "energy threshold")
        e_top = float(table.energy_eV[-1] + (table.energy_eV[-1] - table.energy_eV[-2]) / 2)
        if not 0 <= e_thr < e_top:
            raise InputValidationError(
                expected_got("energy threshold", f"in [0, {e_top:g}) eV (the table's range)", e_thr)
            )
        e_range = (e_thr * u.eV, e_top * u.eV)
        ne_threshold = 1
    rates = electron.rate_per_ne(
        table,
        masses,
        sigma_ref,
        n_max=n_max,
        band_gap=band_gap,
        pair_energy=pair_energy,
        fano=fano,
        ionization=ionization,
        mediator=mediator,
        halo=halo,
        screening=screening,
        energy_range=e_range,
        warn_beyond=warn_beyond,
    )
    per_ne = np.atleast_2d(rates.rate.to_value(1 / (u.kg * u.yr)))
    counted = per_ne[:, ne_bin] if ne_bin is not None else per_ne[:, ne_threshold:].sum(axis=1)
    expected = counted * expo * efficiency
    with np.errstate(divide="ignore"):
        sigma = np.where(expected > 0, s_up * sigma_ref.value / expected, np.inf)
    settings = {
        "exposure_kg_yr": expo,
        "ne_threshold": None if ne_bin is not None else ne_threshold,
        "ne_bin": ne_bin,
        "efficiency": efficiency,
        "n_obs": n_obs,
        "background_events": b,
        "mediator": str(mediator),
        "material": table.material,
        "ionization": ionization,
        "energy_threshold_eV": None if e_range is None else e_range[0].value,
        "beyond_table_fraction": None
        if rates.beyond_table is None
        else np.atleast_1d(rates.beyond_table).tolist(),
    }
    return ReachCurve(
        mass=np.atleast_1d(as_value(masses, u.MeV, "masses")) * u.MeV,
        cross_section=sigma * u.cm**2,
        signal_limit=s_up,
        channel="electron",
        method=method,
        cl=cl,
        settings=settings,
    )


def f2_uncertainty_range(sigma, sigma_of_uncertainty) -> tuple[np.ndarray, np.ndarray]:
    """σ limits for the signal N ± δN, from σ (for N) and the σ computed with f2 → δf2 (for δN).

    The limit is s_up σ_ref / N, so with σ_δ = s_up σ_ref / δN: σ± = 1 / (1/σ ∓ 1/σ_δ)
    (``inf`` where N − δN ≤ 0). δf2 is taken fully correlated across (q, E), the
    conservative choice when a file gives only the 1σ of each entry.

    Returns
    -------
    (lo, hi) : ndarrays, cm² (or the inputs' unit)
    """
    s = np.asarray(u.Quantity(sigma).value, float)
    sd = np.asarray(u.Quantity(sigma_of_uncertainty).value, float)
    with np.errstate(divide="ignore"):
        inv, inv_d = 1.0 / s, 1.0 / sd
        lo = 1.0 / (inv + inv_d)
        diff = inv - inv_d
        hi = np.where(diff > 0, 1.0 / np.where(diff > 0, diff, 1.0), np.inf)
    return lo, hi


def nuclear_reach(
    masses,
    exposure,
    *,
    target: str = "Xe",
    e_min=None,
    e_max=None,
    efficiency=None,
    n_obs: int | None = None,
    background=0.0,
    cl: float = 0.9,
    method: str = "poisson",
    halo: HaloParameters | str | None = None,
) -> ReachCurve:
    """σ_n (spin-independent, per nucleon) reach over masses for a nuclear-recoil counting experiment.

    Parameters
    ----------
    masses : Quantity ['mass'], (n_m,)
    exposure : Quantity ['mass' × 'time']
    target : str
    e_min, e_max : Quantity ['energy']
        Recoil-energy window (default 1–100 keV).
    efficiency : callable or (energies, values), optional
    """
    expo = _exposure(exposure)
    lo = 1.0 * u.keV if e_min is None else e_min
    hi = 100.0 * u.keV if e_max is None else e_max
    b = _background_events(background, expo)
    n_obs = median_background_outcome(b) if n_obs is None else n_obs
    s_up = signal_upper_limit(n_obs, b, cl, method)
    sigma_ref = 1e-45 * u.cm**2
    rate = nuclear.integrated_rate(
        lo, hi, masses, sigma_ref, target, halo=halo, efficiency=efficiency
    ).to_value(1 / (u.kg * u.yr))
    expected = np.atleast_1d(rate) * expo
    with np.errstate(divide="ignore"):
        sigma = np.where(expected > 0, s_up * sigma_ref.value / expected, np.inf)
    settings = {
        "exposure_kg_yr": expo,
        "e_min_keV": as_float(lo, u.keV, "e_min"),
        "e_max_keV": as_float(hi, u.keV, "e_max"),
        "n_obs": n_obs,
        "background_events": b,
        "target": str(target),
    }
    return ReachCurve(
        mass=np.atleast_1d(as_value(masses, u.MeV, "masses")) * u.MeV,
        cross_section=sigma * u.cm**2,
        signal_limit=s_up,
        channel="nuclear",
        method=method,
        cl=cl,
        settings=settings,
    )
