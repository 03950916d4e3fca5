"""Directional WIMP–nucleus rates: d²R/dE_R dΩ from the Radon transform of the SHM.

For recoil direction q̂ the double-differential spin-independent rate per unit target mass is

    d²R/dE_R dΩ = Σ_iso w_iso ρχ σ_n A² F²(E_R) / (4π mχ μ_n²) · f̂(v_min, q̂),

with f̂(w, q̂) = ∫ δ(v·q̂ − w) f(v) d³v the Radon transform of the lab-frame velocity
distribution (Gondolo 2002). For the Standard Halo Model — a Maxwellian of dispersion v0
truncated sharply at v_esc in the Galactic frame, seen from a lab moving at v_E —

    f̂(w, q̂) = π v0² N [exp(−(w + q̂·v_E)²/v0²) − exp(−v_esc²/v0²)]   for |w + q̂·v_E| < v_esc,
    N = 1 / (N_esc π^{3/2} v0³),  N_esc = erf(z) − 2z e^{−z²}/√π,  z = v_esc/v0,

and 0 otherwise. Since ∫ dΩ f̂(w, q̂) = 2π η(w), integrating over the sphere gives back the
non-directional dR/dE_R of :mod:`acie.darkmatter.nuclear`. Recoils are thrown along the WIMP
wind, away from Cygnus where it comes from: for v_min ≥ v_E the rate peaks at q̂ = −v̂_E; for
lower v_min the maximum is the ring q̂·v_E = −v_min around it (Bozorgnia et al. 2012).

Directions are unit vectors in Galactic Cartesian axes (x to the Galactic centre, y along the
rotation, z to the north Galactic pole), the frame of :func:`acie.darkmatter.halo.earth_velocity`.

References
----------
* P. Gondolo, Phys. Rev. D 66, 103513 (2002), arXiv:hep-ph/0209110, Eq. (17)-(19).
* D. N. Spergel, Phys. Rev. D 37, 1353 (1988): the directional signal.
* N. Bozorgnia, G. B. Gelmini, P. Gondolo, JCAP 06 (2012) 037, arXiv:1111.6361: the ring.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import numpy.typing as npt

from acie.darkmatter.halo import earth_velocity
from acie.darkmatter.halo_parameters import HaloParameters, resolve_halo
from acie.darkmatter.nuclear import _inputs, _vmin_kms, helm_ff2_kev
from acie.darkmatter.spin_dependent import rate_conversion
from acie.darkmatter.targets import Target, get_target
from acie.darkmatter.units import AMU_EV, as_value
from acie.errors import NonPhysicalValueError, ShapeError, UnknownNameError, expected_got

__all__ = ["DRU_SR", "d2r_de_domega", "d2r_kernel", "peak_recoil_direction", "radon_shm_kms"]

#: Double-differential rate unit: events / (keV kg day sr).
DRU_SR = u.Unit("1 / (keV kg d sr)")
_PROTON_AMU = 1.007276466621


def radon_shm_kms(
    w: npt.ArrayLike, qhat_dot_ve: npt.ArrayLike, v0: float, vesc: float
) -> np.ndarray:
    """Radon transform f̂(w, q̂) of the truncated-Maxwellian SHM, s/km (floats in km/s)."""
    z = vesc / v0
    n_esc = math.erf(z) - 2.0 * z * math.exp(-z * z) / math.sqrt(math.pi)
    norm = 1.0 / (n_esc * math.pi**1.5 * v0**3)
    t = np.asarray(w, float) + np.asarray(qhat_dot_ve, float)
    val = math.pi * v0**2 * norm * (np.exp(-(t**2) / v0**2) - math.exp(-(z**2)))
    return np.where(np.abs(t) < vesc, val, 0.0)


def d2r_kernel(
    e_kev: np.ndarray,
    m_chi_gev: float,
    sigma_cm2: float,
    target: Target,
    h: HaloParameters,
    qhat: np.ndarray,
    vvec: np.ndarray,
    *,
    nucleon_mass_u: float = _PROTON_AMU,
) -> np.ndarray:
    """d²R/dE dΩ in events/(keV kg day sr); ``e_kev`` (n_E,), ``qhat`` (..., 3) → (..., n_E).

    ``vvec`` (km/s) is one Earth velocity (3,) or one per direction, broadcasting with ``qhat``.
    """
    if h.model != "shm":
        raise UnknownNameError(
            expected_got(
                "halo model for directional rates", "'shm' (closed-form Radon transform)", h.model
            )
        )
    a, m_n, w = target.nuclei()
    mchi = float(m_chi_gev) * 1e9
    m_nucleon = nucleon_mass_u * AMU_EV
    mu_n = mchi * m_nucleon / (mchi + m_nucleon)
    rho = h.rho.to_value(u.GeV / u.cm**3) * 1e9
    v0, vesc = h.v0.to_value(u.km / u.s), h.vesc.to_value(u.km / u.s)
    e = np.asarray(e_kev, float)[:, None]  # (n_E, n_iso)
    vmin = _vmin_kms(e, mchi, m_n)
    per_nucleus = w * a**2 * helm_ff2_kev(e, a, m_n)  # (n_E, n_iso)
    proj = np.sum(np.asarray(qhat, float) * np.asarray(vvec, float), axis=-1)  # (...)
    fhat = radon_shm_kms(vmin, proj[..., None, None], v0, vesc)  # (..., n_E, n_iso)
    pref = rho * float(sigma_cm2) / (4.0 * math.pi * mchi * mu_n**2) * rate_conversion()
    return pref * np.sum(per_nucleus * fhat, axis=-1)


def _unit_vectors(directions) -> np.ndarray:
    from astropy.coordinates import Galactic, SkyCoord

    if isinstance(directions, SkyCoord):
        xyz = directions.transform_to(Galactic()).cartesian.xyz.value
        return np.moveaxis(np.asarray(xyz, float), 0, -1)
    arr = np.asarray(directions, float)
    if arr.shape[-1:] != (3,):
        raise ShapeError(
            expected_got("directions", "unit vectors of shape (..., 3) or a SkyCoord", arr.shape)
        )
    norm = np.linalg.norm(arr, axis=-1, keepdims=True)
    if np.any(norm == 0) or not np.all(np.isfinite(arr)):
        raise NonPhysicalValueError(expected_got("directions", "finite non-zero vectors", arr))
    return arr / norm


def d2r_de_domega(
    energy,
    mass,
    cross_section,
    directions,
    time,
    target: str | Target = "Xe",
    *,
    halo: HaloParameters | str | None = None,
) -> u.Quantity:
    """Spin-independent double-differential rate d²R/dE_R dΩ, events/(keV kg day sr).

    Parameters
    ----------
    energy : Quantity ['energy'], shape (n_E,)
        Recoil energies.
    mass : Quantity ['mass'] or ['energy'], scalar
    cross_section : Quantity ['area'], scalar
        WIMP–nucleon cross-section σ_n.
    directions : SkyCoord or array, shape (..., 3)
        Recoil directions (Galactic Cartesian unit vectors, or any SkyCoord).
    time : astropy Time, scalar
        Fixes the Earth velocity (direction and speed) in the Galactic frame.
    target : str or Target
    halo : HaloParameters or name, optional
        An SHM set (the closed form is for the truncated Maxwellian).

    Returns
    -------
    Quantity, shape directions.shape[:-1] + (n_E,)
    """
    e, m, s = _inputs(energy, mass, cross_section)
    if np.ndim(m) or np.ndim(s) or np.ndim(e) != 1:
        raise ShapeError(
            expected_got(
                "energy / mass / cross-section",
                "1-d / scalar / scalar",
                (np.shape(e), np.shape(m), np.shape(s)),
            )
        )
    h = resolve_halo(halo)
    vvec = earth_velocity(time, h).to_value(u.km / u.s)
    if vvec.shape != (3,):
        raise ShapeError(expected_got("time", "a scalar Time", vvec.shape))
    q = _unit_vectors(directions)
    return d2r_kernel(e, float(m), float(s), get_target(target), h, q, vvec) * DRU_SR


def peak_recoil_direction(time, halo: HaloParameters | str | None = None):
    """The recoil axis −v̂_E(t) as a Galactic SkyCoord (pointing away from Cygnus).

    d²R/dE dΩ peaks there for v_min ≥ v_E and on a ring of half-angle arccos(v_min/v_E)
    around it below.

    Its antipode, v̂_E, is where the WIMP wind comes from (l ≈ 90°, b ≈ 0°, near Deneb in Cygnus).
    """
    from astropy.coordinates import SkyCoord

    v = -np.asarray(as_value(earth_velocity(time, halo), u.km / u.s, "v_E"), float)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0
    lat = np.degrees(np.arcsin(np.clip(v[..., 2], -1.0, 1.0)))
    return SkyCoord(l=lon * u.deg, b=lat * u.deg, frame="galactic")
