"""Spin-independent WIMP–nucleus recoil spectra with the Helm form factor.

    dR/dE_R = ρχ / (2 mχ μ_n²) · σ_n · A² · F²(q) · η(v_min),  v_min = √(m_N E_R / 2) / μ_N

per unit target mass (isospin-conserving couplings, σ_n the WIMP–nucleon cross-section).
Elements are averaged over their natural isotopes (each isotope with its own A, m_N and
F², weighted by mass fraction), compounds (NaI, CsI) by element mass fraction.

References
----------
* J. D. Lewin, P. F. Smith, Astropart. Phys. 6, 87 (1996): Helm form factor with
  c = 1.23 A^{1/3} − 0.60 fm, a = 0.52 fm, s = 0.9 fm, r_n² = c² + (7/3)π² a² − 5 s² (Sec. 4.3).
* Targets, isotopes and abundances: :mod:`acie.darkmatter.targets`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import astropy.units as u
import numpy as np

from acie.darkmatter.halo import earth_velocity, eta_shm_kms, eta_shmpp_kms
from acie.darkmatter.halo_parameters import HaloParameters, resolve_halo
from acie.darkmatter.targets import Target, get_target
from acie.darkmatter.units import (
    AMU_EV,
    C_CM_S,
    C_KMS,
    HBARC_EV_CM,
    as_float,
    as_positive,
    as_value,
)
from acie.errors import NonPhysicalValueError, ShapeError, expected_got

__all__ = [
    "DRU",
    "annual_modulation",
    "dr_de",
    "fit_annual_modulation",
    "helm_form_factor_squared",
    "integrated_rate",
    "vmin_nuclear",
]

#: Differential rate unit: events / (keV kg day).
DRU = u.Unit("1 / (keV kg d)")
_HBARC_MEV_FM = HBARC_EV_CM * 1e7  # eV cm -> MeV fm: 1e-6 MeV/eV * 1e13 fm/cm
_PROTON_AMU = 1.007276466621  # CODATA 2018, m_p in u (nucleon mass convention, see docs)


# ------------------------------------------------------------- float kernels


def helm_ff2_kev(e_kev: np.ndarray, a: np.ndarray, m_ev: np.ndarray) -> np.ndarray:
    """Helm |F(q)|² (Lewin & Smith 1996), E_R in keV, nucleus (A, m_N/eV) broadcasting."""
    q_fm = np.sqrt(2.0 * m_ev * 1e-6 * e_kev * 1e-3) / _HBARC_MEV_FM  # MeV / (MeV fm)
    s, aa = 0.9, 0.52
    c = 1.23 * np.cbrt(a) - 0.60
    rn = np.sqrt(c**2 + 7.0 / 3.0 * math.pi**2 * aa**2 - 5.0 * s**2)
    x = q_fm * rn
    small = x < 1e-3
    xs = np.where(small, 1.0, x)
    j1_over_x = np.where(
        small, 1.0 / 3.0 - x**2 / 30.0, (np.sin(xs) / xs**2 - np.cos(xs) / xs) / xs
    )
    return (3.0 * j1_over_x) ** 2 * np.exp(-((q_fm * s) ** 2))


def _vmin_kms(e_kev: np.ndarray, m_chi_ev: np.ndarray | float, m_n_ev: np.ndarray) -> np.ndarray:
    mu = m_chi_ev * m_n_ev / (m_chi_ev + m_n_ev)
    return np.sqrt(m_n_ev * e_kev * 1e3 / 2.0) / mu * C_KMS


def _eta_kms(vmin: np.ndarray, h: HaloParameters, vvec: np.ndarray | None) -> np.ndarray:
    v0, vesc = h.v0.to_value(u.km / u.s), h.vesc.to_value(u.km / u.s)
    if h.model == "shm++":
        return eta_shmpp_kms(vmin, h, vvec)
    ve = h.v_earth.to_value(u.km / u.s) if vvec is None else float(np.linalg.norm(vvec))
    return eta_shm_kms(vmin, v0, vesc, ve)


def dr_de_kernel(
    e_kev: np.ndarray,
    m_chi_gev: np.ndarray,
    sigma_cm2: np.ndarray,
    target: Target,
    h: HaloParameters,
    vvec: np.ndarray | None = None,
    *,
    nucleon_mass_u: float = _PROTON_AMU,
) -> np.ndarray:
    """dR/dE in events/(keV kg day) on broadcast float arrays (the hot loop).

    ``nucleon_mass_u`` is the nucleon mass in σ_n's reduced mass μ_n (default m_p;
    wimprates uses 1 u).
    """
    a, m_n, w = target.nuclei()
    shape = np.broadcast_shapes(np.shape(e_kev), np.shape(m_chi_gev), np.shape(sigma_cm2))
    e = np.asarray(e_kev, float)[..., None]
    mchi = np.asarray(m_chi_gev, float)[..., None] * 1e9
    m_nucleon = nucleon_mass_u * AMU_EV
    mu_n = mchi * m_nucleon / (mchi + m_nucleon)
    vmin = _vmin_kms(e, mchi, m_n)
    eta = _eta_kms(vmin, h, vvec)  # s/km
    rho = h.rho.to_value(u.GeV / u.cm**3) * 1e9  # eV/cm3
    # rho/(2 m mu_n^2) sigma A^2 F^2 eta: eV/cm3 / eV^3 * cm2 * s/km -> (1/eV^2)(1/cm)(s/km)
    per_nucleus = a**2 * helm_ff2_kev(e, a, m_n) * eta
    rate = rho / (2.0 * mchi * mu_n**2) * np.asarray(sigma_cm2, float)[..., None] * per_nucleus
    # unit conversion to 1/(keV kg day): multiply by c^2 [per eV^2 of mass -> per eV kg], etc.
    # [1/(eV^2 cm)] * (s/km) -> per (eV target-mass-eV) per second: x c(cm/s) x c(km/s)
    conv = C_CM_S * C_KMS  # (1/eV_E)(1/eV_mass)/s
    conv *= 1e3  # per eV -> per keV
    conv *= (1.0 * u.kg).to_value(u.eV, equivalencies=u.mass_energy())  # per eV of mass -> per kg
    conv *= 86400.0  # per s -> per day
    out = np.sum(w * rate * conv, axis=-1)
    return np.broadcast_to(out, shape)


# ---------------------------------------------------------------- public API


def helm_form_factor_squared(energy, target: str | Target) -> np.ndarray:
    """Isotope-averaged (by mass fraction) Helm |F(E_R)|², dimensionless.

    Parameters
    ----------
    energy : Quantity ['energy']
        Nuclear recoil energy.
    target : str or Target
    """
    tgt = get_target(target)
    e = as_value(energy, u.keV, "recoil energy")
    if np.any(np.asarray(e) < 0):
        raise NonPhysicalValueError(expected_got("recoil energy", ">= 0", e))
    a, m_n, w = tgt.nuclei()
    return np.sum(w * helm_ff2_kev(np.asarray(e)[..., None], a, m_n), axis=-1)


def vmin_nuclear(energy, mass, target: str | Target) -> u.Quantity:
    """Minimum dark-matter speed for a recoil ``energy``, for each isotope of the target.

    Returns shape ``energy.shape + (n_isotopes,)`` in km/s.
    """
    tgt = get_target(target)
    _, m_n, _ = tgt.nuclei()
    e = as_value(energy, u.keV, "recoil energy")
    m = as_positive(mass, u.GeV, "dark-matter mass") * 1e9
    return _vmin_kms(np.asarray(e)[..., None], m, m_n) * u.km / u.s


def _inputs(energy, mass, cross_section):
    e = as_value(energy, u.keV, "recoil energy")
    if np.any(np.asarray(e) < 0) or not np.all(np.isfinite(e)):
        raise NonPhysicalValueError(expected_got("recoil energy", "finite and >= 0 keV", e))
    m = as_positive(mass, u.GeV, "dark-matter mass")
    s = as_positive(cross_section, u.cm**2, "WIMP-nucleon cross-section")
    return np.asarray(e), np.asarray(m), np.asarray(s)


def dr_de(
    energy,
    mass,
    cross_section,
    target: str | Target = "Xe",
    *,
    halo: HaloParameters | str | None = None,
    time=None,
) -> u.Quantity:
    """Spin-independent differential rate dR/dE_R, events/(keV kg day).

    Parameters
    ----------
    energy : Quantity ['energy'], shape (n_E,)
        Recoil energies.
    mass : Quantity ['mass'] or ['energy'], scalar or shape (n_m,)
        Dark-matter mass(es); with an array the result has shape (n_m, n_E).
    cross_section : Quantity ['area']
        WIMP–nucleon cross-section σ_n (scalar or broadcastable to ``mass``).
    target : str or Target
    halo : HaloParameters or name, optional
    time : astropy Time, optional
        If given, the Earth velocity at that (scalar) time replaces ``halo.v_earth``.
    """
    e, m, s = _inputs(energy, mass, cross_section)
    h = resolve_halo(halo)
    vvec = None if time is None else earth_velocity(time, h).to_value(u.km / u.s)
    if vvec is not None and vvec.shape != (3,):
        raise ShapeError(
            expected_got("time", "a scalar Time (use annual_modulation for arrays)", vvec.shape)
        )
    mm = m[..., None] if m.ndim else m
    ss = s[..., None] if s.ndim else s
    return dr_de_kernel(e, mm, ss, get_target(target), h, vvec) * DRU


def _gauss_nodes(e_min: float, e_max: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (e_max - e_min) * (x + 1.0) + e_min, 0.5 * (e_max - e_min) * w


def integrated_rate(
    e_min,
    e_max,
    mass,
    cross_section,
    target: str | Target = "Xe",
    *,
    halo: HaloParameters | str | None = None,
    efficiency: Callable[[np.ndarray], np.ndarray] | tuple | None = None,
    time=None,
    n_nodes: int = 64,
) -> u.Quantity:
    """Rate in the window [e_min, e_max] weighted by an efficiency, events/(kg day).

    Fixed Gauss–Legendre nodes, ``n_nodes`` per segment between efficiency-table knots
    (vectorised over masses, no adaptive quadrature).

    Parameters
    ----------
    e_min, e_max : Quantity ['energy']
    mass, cross_section : see :func:`dr_de`
    efficiency : callable E[keV] -> [0, 1], or (energies Quantity, values) table, optional
        Linearly interpolated; zero outside the table.
    """
    lo = as_float(e_min, u.keV, "e_min")
    hi = as_float(e_max, u.keV, "e_max")
    if not 0 <= lo < hi:
        raise NonPhysicalValueError(expected_got("energy window", "0 <= e_min < e_max", (lo, hi)))
    breaks = [lo, hi]
    table = None
    if efficiency is not None and not callable(efficiency):
        ee, vals = efficiency
        ee = np.asarray(as_value(ee, u.keV, "efficiency energies"), float)
        vals = np.asarray(vals, float)
        if np.shape(ee) != np.shape(vals) or np.ndim(ee) != 1:
            raise ShapeError(
                expected_got(
                    "efficiency table",
                    "two 1-D arrays of equal length",
                    (np.shape(ee), np.shape(vals)),
                )
            )
        table = (ee, vals)
        # the interpolated efficiency has kinks at its knots: integrate piecewise between them
        breaks = sorted({lo, hi, *[float(x) for x in ee if lo < x < hi]})
    pieces = [_gauss_nodes(a, b, n_nodes) for a, b in itertools.pairwise(breaks)]
    nodes = np.concatenate([p[0] for p in pieces])
    weights = np.concatenate([p[1] for p in pieces])
    eff = np.ones_like(nodes)
    if callable(efficiency):
        eff = np.asarray(efficiency(nodes), float)
    elif table is not None:
        eff = np.interp(nodes, table[0], table[1], left=0.0, right=0.0)
    if np.any(eff < 0) or np.any(eff > 1):
        raise NonPhysicalValueError(expected_got("efficiency", "values in [0, 1]", eff))
    spec = dr_de(nodes * u.keV, mass, cross_section, target, halo=halo, time=time).to_value(DRU)
    return np.sum(spec * eff * weights, axis=-1) * u.Unit("1 / (kg d)")


def annual_modulation(
    energy,
    mass,
    cross_section,
    target: str | Target = "Xe",
    *,
    times,
    halo: HaloParameters | str | None = None,
) -> u.Quantity:
    """dR/dE_R at each of ``times`` (astropy Time array), events/(keV kg day).

    Returns shape (n_t,) + shape of :func:`dr_de` at one time.
    """
    from astropy.time import Time

    e, m, s = _inputs(energy, mass, cross_section)
    h = resolve_halo(halo)
    t = times if isinstance(times, Time) else Time(times, scale="utc")
    vvecs = np.atleast_2d(earth_velocity(t, h).to_value(u.km / u.s))
    tgt = get_target(target)
    mm = m[..., None] if m.ndim else m
    ss = s[..., None] if s.ndim else s
    if h.model == "shm":  # one vectorised call: Earth speed broadcast on a leading axis
        speeds = np.linalg.norm(vvecs, axis=-1)
        hh = [h.with_values(v_earth=sp * u.km / u.s) for sp in speeds]
        out = np.stack([dr_de_kernel(e, mm, ss, tgt, x) for x in hh])
    else:
        out = np.stack([dr_de_kernel(e, mm, ss, tgt, h, v) for v in vvecs])
    return out * DRU


def fit_annual_modulation(times, rates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares fit R(t) = S₀ + S_m cos(2π (t − t₀)/1 yr) along axis 0 of ``rates``.

    Parameters
    ----------
    times : astropy Time, (n_t,)
    rates : array-like or Quantity, (n_t, ...)

    Returns
    -------
    s0, sm, t0_day : ndarray
        Mean, amplitude (≥ 0) and day of year (0-based, from January 1) of the maximum.
        A phase flip shows as t₀ moving from early June to early December.
    """
    from astropy.time import Time

    t = times if isinstance(times, Time) else Time(times, scale="utc")
    r = np.asarray(getattr(rates, "value", rates), dtype=float)
    if r.shape[0] != len(t) or len(t) < 3:
        raise ShapeError(
            expected_got("rates", f"at least 3 rows, one per time ({len(t)})", r.shape)
        )
    year_start = Time(f"{t[0].datetime.year}-01-01", scale="utc")
    days = (t - year_start).to_value(u.day)
    w = 2.0 * math.pi * days / 365.25
    design = np.stack([np.ones_like(w), np.cos(w), np.sin(w)], axis=1)
    coef, *_ = np.linalg.lstsq(design, r.reshape(len(t), -1), rcond=None)
    s0, a, b = coef
    sm = np.hypot(a, b)
    t0 = (np.arctan2(b, a) % (2 * math.pi)) * 365.25 / (2 * math.pi)
    shape = r.shape[1:]
    return s0.reshape(shape), sm.reshape(shape), t0.reshape(shape)
