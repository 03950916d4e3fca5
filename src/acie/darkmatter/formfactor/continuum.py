"""Distorted-wave final states: shell ionisation with continuum waves of the atom's potential.

The plane-wave approximation of :mod:`~acie.darkmatter.formfactor.atomic_shells` treats the
ejected electron as free. Near the nucleus the real final state is not: it is accelerated by
the unscreened charge, which supplies the high-momentum components that dominate semicore
ionisation at large momentum transfer and low energy (q ≳ 6 α mₑ, E < 50 eV for Ge 3d). Here
the final states are the continuum solutions of a central potential built from the same
atomic Hartree–Fock orbitals (ρ = Σ_nl N_nl R_nl²/4π), one of:

* **Kohn–Sham** (:func:`kohn_sham_potential`, the shipped tables): V(r) = −Z/r + V_H[ρ](r)
  + v_xc^LDA[ρ](r), the local-density exchange–correlation potential — Dirac/Kohn–Sham
  exchange −(3ρ/π)^{1/3} (W. Kohn & L. J. Sham, Phys. Rev. 140, A1133 (1965)) and the
  Perdew–Wang correlation (J. P. Perdew & Y. Wang, PRB 45, 13244 (1992)) — of the neutral
  ground state, no ionic tail. This is the one-electron picture of the DFT tables that the
  atomic shells extend (ours: PBE; QCDark's: PBE0), whose final states are Kohn–Sham
  conduction bands of the neutral crystal's ground-state density (no core hole); LDA is the
  uniform-gas limit of both functionals.
* **Herman–Skillman** (:func:`herman_skillman_potential`; F. Herman & S. Skillman, *Atomic
  Structure Calculations*, Prentice-Hall 1963): Slater's exchange −3(3ρ/8π)^{1/3} (Xα with
  α = 1, 3/2 of the Kohn–Sham exchange) with Latter's tail V(r) = min(V, −1/r) (the ion's
  charge). It was the default before issue #20's decomposition: Slater's α = 1 averages the
  exchange over the whole Fermi sphere, which overstates it for electrons above the Fermi
  level (Kohn–Sham's 2/3 is its value at the Fermi surface; for continuum electrons it
  falls further: S. Hara, J. Phys. Soc. Jpn. 22, 710 (1967)), and the near-threshold d
  wave of Ge is so sensitive to the depth that it gave 1.2–1.6× the Kohn–Sham 3d
  ionisation at q = 3–19 α mₑ. Kept as a systematic.

The radial waves and their use:

* Radial waves u_εl(r) = r R_εl(r) by Numerov's method on a logarithmic grid
  (x = ln r, u = r^{1/2} y, y'' = [(l + ½)² + 2r²(V − ε)] y), energy-normalised (per
  hartree) from the WKB amplitude at r_max: u → √(2/(π k(r))) sin φ(r), with
  k(r)² = 2(ε − V) − l(l+1)/r². With V = 0 they are √(2k/π) r j_l(kr), so the result
  reduces exactly to the plane-wave approximation (a test checks this).
* Per atom, the shell's N_occ electrons averaged over m (Wigner 3j algebra, q̂ along z):

      S(q, E) = N_occ Σ_{l'} Σ_L (2l'+1)(2L+1) (l l' L; 0 0 0)² |∫ r² R_nl j_L(qr) R_εl' dr|²

  with ε = E − E_b − E_gap the final kinetic energy above the conduction-band minimum (the
  crystal's kinematics of the plane-wave model, with the atomic potential's continuum). The
  final waves are orthogonalised to the occupied shells of the same l' (the ejected electron
  cannot enter them; ``orthogonalise_to``). Approximations: central
  potential of the free atom (no crystal field, no relaxation of the hole), one-electron
  final states, ε measured from the CBM rather than the vacuum level.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.special import spherical_jn

from acie.darkmatter.formfactor.atomic_shells import HARTREE_EV, RadialOrbital
from acie.errors import InputValidationError, expected_got

__all__ = [
    "LogGrid",
    "continuum_waves",
    "distorted_wave_structure_factor",
    "herman_skillman_potential",
    "kohn_sham_potential",
    "lda_xc_potential",
    "radial_values",
    "wigner3j_000",
]


class LogGrid:
    """Logarithmic radial grid r_i = r_min e^{i h} (bohr)."""

    def __init__(self, r_min: float = 1e-5, r_max: float = 400.0, h: float = 5e-4) -> None:
        self.h = h
        self.x = np.arange(np.log(r_min), np.log(r_max) + h / 2, h)
        self.r = np.exp(self.x)


def radial_values(orbital: RadialOrbital, r: np.ndarray) -> np.ndarray:
    """R_nl(r) of a primitive expansion."""
    return (r[:, None] ** orbital.l * np.exp(-orbital.exponents * r[:, None] ** 2)) @ (
        orbital.weights
    )


def _density_and_hartree(orbitals: list[RadialOrbital], r: np.ndarray):
    """(Z, ρ, −Z/r + V_H) of the neutral atom whose occupied shells are ``orbitals``."""
    z = sum(o.occupation for o in orbitals)
    rho = sum(o.occupation * radial_values(o, r) ** 2 for o in orbitals) / (4 * np.pi)
    w = np.gradient(r)  # quadrature weights on the (non-uniform) grid
    inner = np.cumsum(4 * np.pi * rho * r**2 * w)
    outer = np.cumsum((4 * np.pi * rho * r * w)[::-1])[::-1]
    return z, rho, -z / r + inner / r + outer


def herman_skillman_potential(orbitals: list[RadialOrbital], r: np.ndarray) -> np.ndarray:
    """Herman–Skillman V(r) (hartree): Slater exchange (α = 1), Latter's −1/r tail (see doc)."""
    _, rho, v_nh = _density_and_hartree(orbitals, r)
    v_x = -3.0 * (3.0 * rho / (8 * np.pi)) ** (1 / 3)
    return np.minimum(v_nh + v_x, -1.0 / r)


# Perdew & Wang, PRB 45, 13244 (1992), Table I, unpolarised: A, α₁, β₁…β₄ (p = 1)
_PW92 = (0.031091, 0.21370, 7.5957, 3.5876, 1.6382, 0.49294)


def lda_xc_potential(rho: np.ndarray) -> np.ndarray:
    """Unpolarised LDA v_xc(ρ) (hartree): Kohn–Sham exchange + Perdew–Wang 1992 correlation.

    v_x = −(3ρ/π)^{1/3}; ε_c(r_s) = −2A(1 + α₁r_s) ln[1 + 1/(2A Σ_j β_j r_s^{(j+1)/2})] and
    v_c = ε_c − (r_s/3) dε_c/dr_s, r_s = (3/4πρ)^{1/3}. Zero where ρ = 0.
    """
    rho = np.asarray(rho, dtype=float)
    if np.any(rho < 0):
        raise InputValidationError(expected_got("density", "values >= 0", float(rho.min())))
    dense = np.maximum(rho, 1e-30)
    a, a1, b1, b2, b3, b4 = _PW92
    rs = (3 / (4 * np.pi * dense)) ** (1 / 3)
    srs = np.sqrt(rs)
    q1 = 2 * a * (b1 * srs + b2 * rs + b3 * rs * srs + b4 * rs**2)
    dq1 = a * (b1 / srs + 2 * b2 + 3 * b3 * srs + 4 * b4 * rs)
    log = np.log1p(1 / q1)
    eps_c = -2 * a * (1 + a1 * rs) * log
    deps = -2 * a * a1 * log + 2 * a * (1 + a1 * rs) * dq1 / (q1**2 + q1)
    v_xc = -((3 * dense / np.pi) ** (1 / 3)) + eps_c - rs / 3 * deps
    return np.where(rho > 0, v_xc, 0.0)


def kohn_sham_potential(orbitals: list[RadialOrbital], r: np.ndarray) -> np.ndarray:
    """Kohn–Sham LDA V(r) (hartree) of the neutral atom's ground-state density (see doc)."""
    _, rho, v_nh = _density_and_hartree(orbitals, r)
    return v_nh + lda_xc_potential(rho)


def continuum_waves(
    potential: np.ndarray,
    grid: LogGrid,
    energies_ha: np.ndarray,
    l_max: int,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Energy-normalised u_εl(r) at grid points ``keep`` (all if None).

    Returns an array of shape (len(keep), n_energies, l_max + 1). A wave still under its
    centrifugal barrier at r_max (high l, ε → 0) has an exponentially small amplitude inside
    and is returned as zero.
    """
    e = np.asarray(energies_ha, dtype=float)
    if np.any(e <= 0):
        raise InputValidationError(expected_got("energies", "values > 0 (hartree)", e.min()))
    r, h = grid.r, grid.h
    keep = np.arange(r.size) if keep is None else np.asarray(keep)
    slot = np.full(r.size, -1)
    slot[keep] = np.arange(keep.size)
    ls = np.arange(l_max + 1)
    lh2 = ((ls + 0.5) ** 2)[None, :]

    def c_at(i: int) -> np.ndarray:  # 1 − h² f/12 with f = (l + ½)² + 2r²(V − ε)
        return 1 - h * h * (lh2 + 2 * r[i] ** 2 * (potential[i] - e[:, None])) / 12

    stored = np.zeros((keep.size, e.size, ls.size))
    # regular start: u ~ r^{l+1}, y = r^{-1/2} u ~ r^{l+1/2}
    y_prev = np.broadcast_to(np.exp((ls + 0.5) * (grid.x[0] - grid.x[1])), stored.shape[1:]).copy()
    y_cur = np.ones_like(y_prev)
    c_prev, c_cur = c_at(0), c_at(1)
    for i, y in ((0, y_prev), (1, y_cur)):
        if slot[i] >= 0:
            stored[slot[i]] = y * np.sqrt(r[i])
    tail = []
    for i in range(1, r.size - 1):
        c_next = c_at(i + 1)
        y_next = ((12 - 10 * c_cur) * y_cur - c_prev * y_prev) / c_next
        big = np.abs(y_next) > 1e100  # squares must stay finite in the amplitude below
        if np.any(big):  # rescale solutions growing under the barrier
            y_next[big] *= 1e-100
            y_cur[big] *= 1e-100
            stored[:, big] *= 1e-100
        if slot[i + 1] >= 0:
            stored[slot[i + 1]] = y_next * np.sqrt(r[i + 1])
        if i + 1 >= r.size - 3:
            tail.append(y_next * np.sqrt(r[i + 1]))
        y_prev, y_cur, c_prev, c_cur = y_cur, y_next, c_cur, c_next
    # amplitude at the outer end from the last two points of u ≈ A sin(k r + φ), with the
    # local k² = 2(ε − V) − l(l+1)/r² (exact for a sinusoid; WKB corrections ~ k'/k² are tiny)
    r_mid = 0.5 * (r[-1] + r[-2])
    v_mid = 0.5 * (potential[-1] + potential[-2])
    k2 = 2 * (e[:, None] - v_mid) - (ls * (ls + 1))[None, :] / r_mid**2
    open_ = k2 > 0
    k = np.sqrt(np.where(open_, k2, 1.0))
    kd = k * (r[-1] - r[-2])
    u1, u2 = tail[1], tail[2]
    with np.errstate(over="ignore", invalid="ignore"):  # closed channels are zeroed below
        amp = np.sqrt((u1**2 + u2**2 - 2 * u1 * u2 * np.cos(kd)) / np.sin(kd) ** 2)
    return stored * np.where(open_, np.sqrt(2 / (np.pi * k)) / amp, 0.0)[None]


def _simpson(n: int) -> np.ndarray:
    """Simpson's-rule weights (without h/3) for an odd number of points."""
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w


def wigner3j_000(l1: int, l2: int, l3: int) -> float:
    """(l1 l2 l3; 0 0 0), closed form (zero unless l1 + l2 + l3 is even and triangular)."""
    big_j = l1 + l2 + l3
    if big_j % 2 or l3 < abs(l1 - l2) or l3 > l1 + l2:
        return 0.0
    g = big_j // 2
    from math import factorial, sqrt

    num = factorial(big_j - 2 * l1) * factorial(big_j - 2 * l2) * factorial(big_j - 2 * l3)
    return (
        (-1) ** g
        * sqrt(num / factorial(big_j + 1))
        * (factorial(g) / (factorial(g - l1) * factorial(g - l2) * factorial(g - l3)))
    )


def distorted_wave_structure_factor(
    orbital: RadialOrbital,
    potential: np.ndarray | None,
    q,
    energy_ev,
    *,
    binding_ev: float,
    band_gap_ev: float,
    l_max: int = 16,
    n_energy: int = 80,
    grid: LogGrid | None = None,
    r_cut: float = 15.0,
    stride: int = 4,
    orthogonalise_to: list[RadialOrbital] | None = None,
) -> np.ndarray:
    """S(q, E) per eV of one atom's shell with distorted-wave final states.

    ``potential`` on ``grid`` (None: free waves, V = 0, the plane-wave limit). The final
    waves are solved on ``n_energy`` kinetic energies (denser near threshold) and S is
    interpolated in ε between them; radial integrals use every ``stride``-th grid point
    up to ``r_cut`` bohr (Simpson in x).

    Returns
    -------
    ndarray, shape (len(q), len(energy_ev)), eV⁻¹
    """
    grid = grid or LogGrid()
    q = np.atleast_1d(np.asarray(q, dtype=float))
    e = np.atleast_1d(np.asarray(energy_ev, dtype=float))
    eps_ev = e - binding_ev - band_gap_ev
    out = np.zeros((q.size, e.size))
    above = eps_ev > 0
    if not np.any(above):
        return out
    eps_top = float(eps_ev.max()) / HARTREE_EV
    # solve on ε_j = ε_top (j/n)², dense at threshold where S ∝ √ε changes fastest
    eps_nodes = eps_top * (np.arange(1, n_energy + 1) / n_energy) ** 2
    v = np.zeros_like(grid.r) if potential is None else potential
    sel = np.arange(0, np.searchsorted(grid.r, r_cut), stride)
    if sel.size % 2 == 0:
        sel = sel[:-1]
    u_sel = continuum_waves(v, grid, eps_nodes, l_max, keep=sel)
    r = grid.r[sel]
    r_nl = radial_values(orbital, r)
    # the ejected electron cannot enter an occupied shell: project those out (same l')
    w_orth = _simpson(r.size) * grid.h * stride / 3 * r**2  # ∫ r² R (u/r) dr, dr = r dx
    for occ in orthogonalise_to or []:
        if occ.l <= l_max:
            r_occ = radial_values(occ, r)
            ov = np.einsum("r,re->e", w_orth * r_occ, u_sel[:, :, occ.l])
            u_sel[:, :, occ.l] -= ov[None, :] * (r_occ * r)[:, None]
    weight = (
        _simpson(r.size) * grid.h * stride / 3 * r**3 * r_nl
    )  # ∫ r² R_nl R_ε j_L dr = Σ w · (u/r) j_L
    s_nodes = np.zeros((q.size, eps_nodes.size))
    l0 = orbital.l
    for big_l in range(l0 + l_max + 1):
        pairs = [
            lp
            for lp in range(abs(big_l - l0), min(big_l + l0, l_max) + 1)
            if wigner3j_000(l0, lp, big_l) != 0.0
        ]
        if not pairs:
            continue
        j_l = spherical_jn(big_l, q[:, None] * r[None, :])
        for lp in pairs:
            integral = j_l @ (weight[:, None] * u_sel[:, :, lp] / r[:, None])
            s_nodes += (
                (2 * lp + 1) * (2 * big_l + 1) * wigner3j_000(l0, lp, big_l) ** 2 * integral**2
            )
    s_nodes *= orbital.occupation
    # interpolate in √ε (S ∝ √ε at threshold for plane waves), zero at ε = 0
    nodes = np.concatenate([[0.0], np.sqrt(eps_nodes)])
    spline = CubicSpline(nodes, np.concatenate([np.zeros((q.size, 1)), s_nodes], 1), axis=1)
    out[:, above] = spline(np.sqrt(eps_ev[above] / HARTREE_EV))
    return np.clip(out, 0.0, None) / HARTREE_EV
