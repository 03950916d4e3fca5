"""Dark-matter velocity distributions: SHM, SHM++ and the Earth's velocity.

Conventions: velocities in km/s, Galactic Cartesian frame (x towards the Galactic centre,
y along the rotation, z to the north Galactic pole). η(v_min) = ∫_{v>v_min} f(v)/v d³v
in s/km, with f normalised to 1.

References
----------
* Standard Halo Model η in closed form: C. Savage, K. Freese, P. Gondolo, PRD 74, 043531
  (2006), arXiv:astro-ph/0607121; C. McCabe, PRD 82, 023530 (2010), arXiv:1005.0579, App. B.
* SHM++: N. W. Evans, C. A. J. O'Hare, C. McCabe, PRD 99, 023012 (2019), arXiv:1810.11468.
* Parameter sets (:mod:`acie.darkmatter.halo_parameters`): see ``data/halo/REFERENCE.md``.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import astropy.units as u
import numpy as np
import numpy.typing as npt
from scipy.special import erf

from acie.darkmatter.halo_parameters import KMS, HaloParameters, resolve_halo
from acie.darkmatter.units import as_positive, as_positive_float, as_value
from acie.errors import DataFormatError, NonPhysicalValueError, expected_got

__all__ = [
    "earth_speed",
    "earth_velocity",
    "eta",
    "eta_shm",
    "eta_shmpp",
    "shm_speed_distribution",
]

# ---------------------------------------------------------------- SHM, floats


def _n_esc(z: float) -> float:
    return math.erf(z) - 2.0 * z * math.exp(-z * z) / math.sqrt(math.pi)


def shm_speed_pdf_kms(v: npt.ArrayLike, v0: float, vesc: float, ve: float) -> np.ndarray:
    """Lab-frame SHM speed distribution f(v), s/km; floats in km/s (hot-loop form)."""
    v = np.asarray(v, dtype=float)
    norm = 1.0 / (math.pi**1.5 * v0**3 * _n_esc(vesc / v0))
    upper = np.minimum(v + ve, vesc)
    val = (
        norm
        * math.pi
        * v0**2
        * v
        / ve
        * (np.exp(-((v - ve) ** 2) / v0**2) - np.exp(-(upper**2) / v0**2))
    )
    return np.where((v >= 0) & (np.abs(v - ve) < vesc), np.maximum(val, 0.0), 0.0)


def eta_shm_kms(vmin: npt.ArrayLike, v0: float, vesc: float, ve: npt.ArrayLike) -> np.ndarray:
    """Closed-form SHM η(v_min), s/km, for every regime (McCabe 2010, App. B); km/s floats.

    ``ve`` broadcasts against ``vmin`` (time-dependent Earth speeds).
    """
    x = np.asarray(vmin, dtype=float) / v0
    y = np.asarray(ve, dtype=float) / v0
    z = vesc / v0
    nesc = _n_esc(z)
    ez = math.exp(-z * z)
    x, y = np.broadcast_arrays(x, y)
    low = (erf(x + y) - erf(x - y) - 4.0 / math.sqrt(math.pi) * y * ez) / (2.0 * nesc * v0 * y)
    mid = (math.erf(z) - erf(x - y) - 2.0 / math.sqrt(math.pi) * (y + z - x) * ez) / (
        2.0 * nesc * v0 * y
    )
    below = 1.0 / (v0 * y)  # v_E > v_esc and v_min < v_E - v_esc: shell theorem, <1/v> = 1/v_E
    out = np.where(x < np.abs(y - z), np.where(z > y, low, below), np.where(x < y + z, mid, 0.0))
    return np.maximum(out, 0.0)


def shm_speed_distribution(
    v, halo: HaloParameters | str | None = None, *, v_earth=None
) -> u.Quantity:
    """Lab-frame SHM speed distribution f(v) (normalised to 1 over v), s/km.

    Parameters
    ----------
    v : Quantity ['speed']
    halo : HaloParameters or name, optional
    v_earth : Quantity ['speed'], optional
        Earth speed (a scalar); default ``halo.v_earth``.
    """
    h = resolve_halo(halo)
    ve = (
        float(h.v_earth.to_value(KMS))
        if v_earth is None
        else as_positive_float(v_earth, KMS, "v_earth")
    )
    return shm_speed_pdf_kms(
        as_value(v, KMS, "v"), h.v0.to_value(KMS), h.vesc.to_value(KMS), ve
    ) * (u.s / u.km)


def eta_shm(vmin, halo: HaloParameters | str | None = None, *, v_earth=None) -> u.Quantity:
    """Mean inverse speed η(v_min) of the SHM in closed form, s/km.

    Parameters
    ----------
    vmin : Quantity ['speed'], array-like
    halo : HaloParameters or name, optional
        Default ``"baxter2021"``.
    v_earth : Quantity ['speed'], optional
        Earth speed (scalar or broadcastable to ``vmin``); default ``halo.v_earth``.
    """
    h = resolve_halo(halo)
    vm = as_value(vmin, KMS, "vmin")
    if np.any(np.asarray(vm) < 0):
        raise NonPhysicalValueError(expected_got("vmin", ">= 0", vm))
    ve = h.v_earth.to_value(KMS) if v_earth is None else as_positive(v_earth, KMS, "v_earth")
    return eta_shm_kms(vm, h.v0.to_value(KMS), h.vesc.to_value(KMS), ve) * (u.s / u.km)


# ------------------------------------------------------------------- SHM++


@lru_cache(maxsize=32)
def _leggauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [-1, 1] (read-only; computing them costs ms)."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


@lru_cache(maxsize=64)
def _sausage_norm(v0: float, vesc: float, beta: float) -> tuple[float, float, float]:
    sr2 = 3.0 * v0**2 / (2.0 * (3.0 - 2.0 * beta))
    st2 = 3.0 * v0**2 * (1.0 - beta) / (2.0 * (3.0 - 2.0 * beta))
    # Normalisation inside |v| < vesc: radial Gauss-Legendre x exact polar integral of an axisymmetric Gaussian
    nodes, weights = _leggauss(200)
    v = 0.5 * vesc * (nodes + 1.0)
    a = v**2 * (1.0 / (2.0 * sr2) - 1.0 / (2.0 * st2))
    # ∫_{-1}^{1} exp(-a c²) dc, a may be negative (radially stretched)
    c, wc = _leggauss(64)
    ang = np.sum(wc[None, :] * np.exp(-a[:, None] * c[None, :] ** 2), axis=1)
    radial = v**2 * np.exp(-(v**2) / (2.0 * st2)) * 2.0 * math.pi * ang
    total = 0.5 * vesc * np.sum(weights * radial) / ((2.0 * math.pi) ** 1.5 * math.sqrt(sr2) * st2)
    return sr2, st2, total


def sausage_speed_pdf_kms(
    v: npt.ArrayLike,
    v0: float,
    vesc: float,
    beta: float,
    v_earth_vec: npt.ArrayLike,
    *,
    n_angle: int = 40,
) -> np.ndarray:
    """Lab-frame speed distribution of the SHM++ sausage component, s/km (numerical angles)."""
    sr2, st2, norm = _sausage_norm(v0, vesc, beta)
    c, wc = _leggauss(n_angle)
    phi = (np.arange(2 * n_angle) + 0.5) * math.pi / n_angle
    wphi = math.pi / n_angle
    s = np.sqrt(1.0 - c**2)
    dirs = np.stack(
        [np.outer(s, np.cos(phi)), np.outer(s, np.sin(phi)), np.outer(c, np.ones_like(phi))],
        axis=-1,
    )
    w = np.outer(wc, np.full(phi.size, wphi))
    vv = np.asarray(v, dtype=float)
    gal = (
        vv[:, None, None, None] * dirs[None]
        + np.asarray(v_earth_vec, dtype=float)[None, None, None, :]
    )
    g2 = np.sum(gal**2, axis=-1)
    dens = np.exp(
        -(gal[..., 0] ** 2) / (2 * sr2) - (gal[..., 1] ** 2 + gal[..., 2] ** 2) / (2 * st2)
    )
    dens = np.where(g2 < vesc**2, dens, 0.0) / (
        (2.0 * math.pi) ** 1.5 * math.sqrt(sr2) * st2 * norm
    )
    return vv**2 * np.einsum("vij,ij->v", dens, w)


def eta_shmpp_kms(
    vmin: npt.ArrayLike,
    h: HaloParameters,
    v_earth_vec: npt.ArrayLike | None = None,
    *,
    n_speed: int = 160,
    n_angle: int = 40,
) -> np.ndarray:
    """SHM++ η(v_min), s/km: closed-form round part + numerically integrated sausage."""
    v0, vesc = h.v0.to_value(KMS), h.vesc.to_value(KMS)
    vvec = h.v_sun.to_value(KMS) if v_earth_vec is None else np.asarray(v_earth_vec, dtype=float)
    ve = float(np.linalg.norm(vvec))
    vm = np.asarray(vmin, dtype=float)
    eta_round = eta_shm_kms(vm, v0, vesc, ve)
    frac = float(h.sausage_fraction)
    if frac == 0.0:
        return eta_round
    vmax = vesc + ve
    nodes, weights = _leggauss(n_speed)
    # piecewise Gauss-Legendre: the pdf has a kink at |v - v_E| = v_esc
    edges = np.array([0.0, max(vesc - ve, 1e-9), vmax]) if vesc > ve else np.array([0.0, vmax])
    vs, ws = [], []
    for a, b in itertools.pairwise(edges):
        vs.append(0.5 * (b - a) * (nodes + 1) + a)
        ws.append(0.5 * (b - a) * weights)
    vgrid, wgrid = np.concatenate(vs), np.concatenate(ws)
    integrand = sausage_speed_pdf_kms(vgrid, v0, vesc, float(h.beta), vvec, n_angle=n_angle) / vgrid
    # η(v_min) = Σ_{v_k > v_min} w_k f(v_k)/v_k, refined by linear interpolation of the cumulative sum
    order = np.argsort(vgrid)
    vs_sorted, contrib = vgrid[order], (wgrid * integrand)[order]
    tail = np.concatenate([np.cumsum(contrib[::-1])[::-1], [0.0]])
    knots = np.concatenate([[0.0], 0.5 * (vs_sorted[1:] + vs_sorted[:-1]), [vmax]])
    eta_s = np.interp(vm, knots, tail, right=0.0)
    return (1.0 - frac) * eta_round + frac * eta_s


def eta_shmpp(
    vmin, halo: HaloParameters | str | None = "shmpp2019", *, v_earth_vector=None
) -> u.Quantity:
    """SHM++ η(v_min), s/km (Evans, O'Hare & McCabe 2019).

    The round component uses the closed form; the sausage (β-anisotropic Gaussian along
    the Galactic radial direction, truncated at v_esc) is boosted by the Earth velocity
    vector and integrated numerically. With ``sausage_fraction = 0`` or ``beta = 0`` it
    reduces to the SHM with v_E = |v_earth_vector|.

    Parameters
    ----------
    vmin : Quantity ['speed']
    halo : HaloParameters or name
    v_earth_vector : Quantity ['speed'], shape (3,), optional
        Earth velocity in Galactic Cartesian coordinates; default the Sun's velocity.
    """
    h = resolve_halo(halo)
    vm = as_value(vmin, KMS, "vmin")
    vvec = None if v_earth_vector is None else as_value(v_earth_vector, KMS, "v_earth_vector")
    if vvec is not None and np.shape(vvec) != (3,):
        raise DataFormatError(expected_got("v_earth_vector", "a 3-vector", np.shape(vvec)))
    return eta_shmpp_kms(vm, h, vvec) * (u.s / u.km)


def eta(vmin, halo: HaloParameters | str | None = None, *, v_earth=None) -> u.Quantity:
    """η(v_min) for the model the parameter set names (``shm`` or ``shm++``), s/km."""
    h = resolve_halo(halo)
    if h.model == "shm++":
        vec = None
        if v_earth is not None:
            vec = as_value(v_earth, KMS, "v_earth")
            if np.ndim(vec) == 0:
                vec = h.v_sun.to_value(KMS) * (vec / np.linalg.norm(h.v_sun.to_value(KMS)))
            vec = vec * KMS
        return eta_shmpp(vmin, h, v_earth_vector=vec)
    return eta_shm(vmin, h, v_earth=v_earth)


# ------------------------------------------------------------ Earth velocity


def earth_velocity(time, halo: HaloParameters | str | None = None) -> u.Quantity:
    """Earth velocity in the Galactic rest frame at ``time``, km/s, shape (..., 3).

    v_E(t) = (0, v0, 0) + v_⊙,pec + v_orbit(t), with the Earth's barycentric velocity
    from :func:`astropy.coordinates.get_body_barycentric_posvel` rotated from ICRS to
    Galactic axes.

    Parameters
    ----------
    time : astropy.time.Time or str/list accepted by Time
    halo : HaloParameters or name, optional
    """
    from astropy.coordinates import (
        CartesianRepresentation,
        Galactic,
        SkyCoord,
        get_body_barycentric_posvel,
    )
    from astropy.time import Time

    h = resolve_halo(halo)
    t = time if isinstance(time, Time) else Time(time, scale="utc")
    _, vel = get_body_barycentric_posvel("earth", t)
    xyz = vel.xyz.to(KMS)  # (3, ...)
    # ICRS -> Galactic is a pure rotation; transform the vector as a direction
    rep = CartesianRepresentation(xyz.value * u.one)
    gal = SkyCoord(rep, frame="icrs", representation_type="cartesian").transform_to(Galactic())
    gxyz = gal.cartesian.xyz.value * KMS
    out = np.moveaxis(gxyz, 0, -1) + h.v_sun
    return out


def earth_speed(time, halo: HaloParameters | str | None = None) -> u.Quantity:
    """|v_E(t)| in the Galactic frame, km/s."""
    return np.linalg.norm(earth_velocity(time, halo), axis=-1)
