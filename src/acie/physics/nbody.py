"""Direct-summation N-body gravity with Plummer softening.

Units: positions in kpc, velocities in km/s, masses in M_sun; accelerations in
(km/s)^2/kpc and times in kpc/(km/s) (= 0.9778 Gyr). The softened pair potential is
``-G m_i m_j / sqrt(r^2 + eps^2)`` (Plummer softening, Aarseth 1963), so forces are
exact Newtonian for ``r >> eps``. Work is O(N^2), done in row blocks to bound memory.
Functions accept numpy arrays or torch tensors (differentiable).

:func:`plummer_sphere` draws an equilibrium Plummer (1911) model with the method of
Aarseth, Hénon & Wielen (1974, A&A 37, 183); the closed forms used by the tests are the
Plummer potential energy ``W = -3 pi G M^2 / (32 a)`` and acceleration
``a(r) = -G M r / (r^2 + a^2)^(3/2)`` (Binney & Tremaine 2008, §2.2.2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acie.errors import InputValidationError, NonPhysicalValueError, ShapeError
from acie.physics._backend import is_torch
from acie.physics.constants import G_KPC_KMS2_PER_MSUN

__all__ = [
    "acceleration_field",
    "accelerations",
    "kinetic_energy",
    "leapfrog",
    "plummer_sphere",
    "potential_energy",
    "virial_ratio",
]


def _check(positions, masses, softening):
    if tuple(positions.shape[1:]) != (3,) or positions.ndim != 2:
        raise ShapeError(f"positions must have shape (N, 3) [kpc]; got {tuple(positions.shape)}")
    if tuple(masses.shape) != (positions.shape[0],):
        raise ShapeError(
            f"masses must have shape ({positions.shape[0]},) [M_sun]; got {tuple(masses.shape)}"
        )
    if not softening >= 0:
        raise NonPhysicalValueError(f"softening must be >= 0 kpc; got {softening!r}")


def _pairs(positions, block: int):
    n = positions.shape[0]
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        yield lo, hi, positions[None, :, :] - positions[lo:hi, None, :]  # (b, N, 3): r_j - r_i


def accelerations(
    positions, masses, *, softening: float = 0.0, g: float = G_KPC_KMS2_PER_MSUN, block: int = 1024
):
    """Gravitational acceleration of every particle [(km/s)^2 / kpc], shape (N, 3).

    ``a_i = G sum_j m_j (r_j - r_i) / (|r_j - r_i|^2 + eps^2)^(3/2)``; the self term vanishes.
    With ``softening = 0`` coincident particles are an error (infinite force).
    """
    torch_mode = is_torch(positions, masses)
    if not torch_mode:
        positions = np.asarray(positions, dtype=np.float64)
        masses = np.asarray(masses, dtype=np.float64)
    _check(positions, masses, softening)
    parts = []
    for lo, hi, d in _pairs(positions, block):
        r2 = (d**2).sum(-1) + softening**2  # (b, N)
        if torch_mode:
            import torch

            eye = torch.zeros_like(r2, dtype=torch.bool)
            eye[torch.arange(hi - lo), torch.arange(lo, hi)] = True
            inv = torch.where(eye, torch.zeros_like(r2), r2.clamp_min(1e-300) ** -1.5)
        else:
            r2[np.arange(hi - lo), np.arange(lo, hi)] = np.inf
            if (r2 == 0).any():
                raise NonPhysicalValueError(
                    "two particles coincide and softening is 0: the force "
                    "is infinite; give softening > 0"
                )
            inv = r2**-1.5
        parts.append(g * ((masses[None, :] * inv)[..., None] * d).sum(1))
    if torch_mode:
        import torch

        return torch.cat(parts, 0)
    return np.concatenate(parts, 0)


def acceleration_field(
    points, positions, masses, *, softening: float = 0.0, g: float = G_KPC_KMS2_PER_MSUN
):
    """Acceleration at arbitrary ``points`` (M, 3) [kpc] due to the particles [(km/s)^2/kpc].

    The field felt by massless test particles; shape (M, 3).
    """
    torch_mode = is_torch(points, positions, masses)
    if not torch_mode:
        points = np.asarray(points, dtype=np.float64)
        positions = np.asarray(positions, dtype=np.float64)
        masses = np.asarray(masses, dtype=np.float64)
    _check(positions, masses, softening)
    if points.ndim != 2 or tuple(points.shape[1:]) != (3,):
        raise ShapeError(f"points must have shape (M, 3) [kpc]; got {tuple(points.shape)}")
    d = positions[None, :, :] - points[:, None, :]
    r2 = (d**2).sum(-1) + softening**2
    if not torch_mode and (r2 == 0).any():
        raise NonPhysicalValueError("a point coincides with a particle and softening is 0")
    return g * ((masses[None, :] * r2**-1.5)[..., None] * d).sum(1)


def potential_energy(
    positions, masses, *, softening: float = 0.0, g: float = G_KPC_KMS2_PER_MSUN, block: int = 1024
):
    """Total potential energy ``-G sum_{i<j} m_i m_j / sqrt(r_ij^2 + eps^2)`` [M_sun (km/s)^2]."""
    torch_mode = is_torch(positions, masses)
    if not torch_mode:
        positions = np.asarray(positions, dtype=np.float64)
        masses = np.asarray(masses, dtype=np.float64)
    _check(positions, masses, softening)
    total = 0.0
    for lo, hi, d in _pairs(positions, block):
        r2 = (d**2).sum(-1) + softening**2
        idx = np.arange(hi - lo)
        inv: Any  # 1 / r per pair: a torch tensor or a numpy array, by mode
        if torch_mode:
            import torch

            mask = torch.arange(positions.shape[0])[None, :] > torch.arange(lo, hi)[:, None]
            inv = torch.where(mask, r2.clamp_min(1e-300) ** -0.5, torch.zeros_like(r2))
        else:
            mask = np.arange(positions.shape[0])[None, :] > (lo + idx)[:, None]
            with np.errstate(divide="ignore"):
                inv = np.where(mask, r2**-0.5, 0.0)
            if np.isinf(inv).any():
                raise NonPhysicalValueError(
                    "two particles coincide and softening is 0: the potential energy is infinite"
                )
        total = total - g * (masses[lo:hi, None] * masses[None, :] * inv).sum()
    return total


def kinetic_energy(velocities, masses):
    """``sum_i m_i |v_i|^2 / 2`` [M_sun (km/s)^2]."""
    if not is_torch(velocities, masses):
        velocities = np.asarray(velocities, dtype=np.float64)
        masses = np.asarray(masses, dtype=np.float64)
    return 0.5 * (masses * (velocities**2).sum(-1)).sum()


def virial_ratio(positions, velocities, masses, *, softening: float = 0.0):
    """``2T / |W|``: 1 for a system in virial equilibrium (``2T + W = 0``)."""
    w = potential_energy(positions, masses, softening=softening)
    return 2.0 * kinetic_energy(velocities, masses) / abs(w)


def leapfrog(positions, velocities, masses, *, dt: float, steps: int, softening: float = 0.0):
    """Integrate with kick-drift-kick leapfrog (symplectic, second order).

    Parameters
    ----------
    dt : float [kpc / (km/s)]
    steps : int

    Returns
    -------
    positions, velocities : ndarray
        After ``steps`` steps.
    """
    if not dt > 0 or int(steps) < 0:
        raise InputValidationError(f"need dt > 0 and steps >= 0; got dt={dt!r}, steps={steps!r}")
    x = np.array(positions, dtype=np.float64)
    v = np.array(velocities, dtype=np.float64)
    a = accelerations(x, masses, softening=softening)
    for _ in range(int(steps)):
        v += 0.5 * dt * a
        x += dt * v
        a = accelerations(x, masses, softening=softening)
        v += 0.5 * dt * a
    return x, v


def plummer_sphere(
    n: int, *, mass: float, scale_radius: float, seed: int, g: float = G_KPC_KMS2_PER_MSUN
):
    """Equal-mass particles of an isotropic Plummer sphere in equilibrium.

    Parameters
    ----------
    n : int
    mass : float [M_sun]
        Total mass.
    scale_radius : float [kpc]
        Plummer radius ``a``.
    seed : int

    Returns
    -------
    positions [kpc], velocities [km/s], masses [M_sun] : ndarray
        Shapes (n, 3), (n, 3), (n,), centred on zero position and momentum.
    """
    if n < 2 or not mass > 0 or not scale_radius > 0:
        raise InputValidationError(
            f"need n >= 2, mass > 0, scale_radius > 0; got n={n}, "
            f"mass={mass}, scale_radius={scale_radius}"
        )
    rng = np.random.default_rng(seed)

    def isotropic(r):
        cos_t = rng.uniform(-1, 1, r.size)
        phi = rng.uniform(0, 2 * np.pi, r.size)
        sin_t = np.sqrt(1 - cos_t**2)
        return r[:, None] * np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], 1)

    x1 = rng.uniform(0.0, 1.0, n)
    x1 = np.clip(x1, 1e-12, 1 - 1e-12)
    r = scale_radius / np.sqrt(x1 ** (-2.0 / 3.0) - 1.0)
    # speed: q = v / v_esc with density g(q) ∝ q^2 (1 - q^2)^(7/2), von Neumann rejection
    q = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        x4 = rng.uniform(0, 1, todo.size)
        x5 = rng.uniform(0, 0.1, todo.size)
        ok = x5 < x4**2 * (1 - x4**2) ** 3.5
        q[todo[ok]] = x4[ok]
        todo = todo[~ok]
    v_esc = np.sqrt(2 * g * mass / np.sqrt(r**2 + scale_radius**2))
    pos = isotropic(r)
    vel = isotropic(q * v_esc)
    pos -= pos.mean(0)
    vel -= vel.mean(0)
    return pos, vel, np.full(n, mass / n)
