"""Atomic-shell f2 in the plane-wave approximation, against independent numbers (#20).

Hydrogen 1s in closed form, the completeness sum rule, basis-set convergence of the Ge 3d
momentum distribution, and the conversion S → f2 against ``normalise_histogram`` on an
empty-lattice crystal where both routes can be computed.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import gamma

from acie.darkmatter.formfactor import atomic_shells as A
from acie.darkmatter.formfactor.settings import FormFactorSettings
from acie.darkmatter.formfactor.transitions import normalise_histogram


@pytest.fixture(scope="module")
def hydrogen():
    """H 1s from PySCF in a large even-tempered s basis (0.01 … ~3e5 bohr⁻²)."""
    pytest.importorskip("pyscf")
    from pyscf import gto

    basis = {"H": gto.etbs([(0, 30, 0.01, 1.8)])}
    (orb,) = A.atomic_orbitals("H", basis)
    return orb


@pytest.fixture(scope="module")
def germanium():
    pytest.importorskip("pyscf")
    return {o.label: o for o in A.atomic_orbitals("Ge", "def2-tzvp")}


def test_hydrogen_momentum_wavefunction_is_the_closed_form(hydrogen):
    # |ψ̃_1s(p)|² = 64π a³ / (1 + p²a²)⁴ (a = 1 bohr) and |ψ̃|² = χ²/(4π) for l = 0
    p = np.linspace(0.0, 4.0, 41)
    exact = 64 * np.pi / (1 + p**2) ** 4
    got = A.momentum_wavefunction(hydrogen, p) ** 2 / (4 * np.pi)
    assert hydrogen.label == "1s"
    assert hydrogen.occupation == pytest.approx(1.0)
    assert hydrogen.eigenvalue_ha == pytest.approx(-0.5, abs=1e-5)
    np.testing.assert_allclose(got, exact, rtol=2e-3, atol=1e-4 * exact[0])


def test_hydrogen_structure_factor_is_the_closed_form(hydrogen):
    # S = N/(16π³q) ∫ p χ² dp with χ² = 256π² a³/(1+p²a²)⁴:
    #   S = N 8a/(3π q) [(1 + p₋²)^-3 − (1 + p₊²)^-3], p± = |k' ± q|, per hartree
    q = np.array([0.3, 1.0, 2.5])
    e = np.linspace(1.0, 60.0, 30)  # eV above the 13.6 eV binding + 0 gap
    binding = 13.6057
    s = A.structure_factor(hydrogen, q, e + binding, binding_ev=binding, band_gap_ev=0.0)
    k = np.sqrt(2 * e / A.HARTREE_EV)
    lo, hi = np.abs(k[None, :] - q[:, None]), k[None, :] + q[:, None]
    exact = 8 / (3 * np.pi * q[:, None]) * ((1 + lo**2) ** -3 - (1 + hi**2) ** -3)
    np.testing.assert_allclose(s * A.HARTREE_EV, exact, rtol=5e-3)
    # nothing below threshold
    below = A.structure_factor(hydrogen, q, [binding - 0.1], binding_ev=binding, band_gap_ev=0.0)
    assert np.all(below == 0)


def test_cumulative_momentum_closed_form_matches_quadrature(germanium):
    d3 = germanium["3d"]
    p = np.linspace(0.0, 40.0, 200_001)
    chi2 = A.momentum_wavefunction(d3, p) ** 2
    quad = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] * chi2[1:] + p[:-1] * chi2[:-1]))])
    quad *= p[1] - p[0]
    for P in (0.5, 2.0, 8.0, 30.0):
        i = round(P / (p[1] - p[0]))
        assert A.cumulative_momentum(d3, P) == pytest.approx(quad[i], rel=1e-6)


def test_ge_shells_normalise_in_momentum_space_and_sum_rule_holds(germanium):
    assert [germanium[k].occupation for k in ("3d", "4s")] == pytest.approx([10.0, 2.0])
    p = np.linspace(0.0, 150.0, 300_001)
    for orb in (o for o in germanium.values() if o.label != "1s"):  # 1s extends past p = 150
        chi2 = A.momentum_wavefunction(orb, p) ** 2
        assert np.trapezoid(p**2 * chi2, p) / (2 * np.pi) ** 3 == pytest.approx(1.0, abs=5e-4)
    # ∫ S dE = N_occ at any q (plane-wave final states are complete)
    e = np.linspace(0.0, 40_000.0, 400_001)
    s = A.structure_factor(germanium["3d"], [0.5, 3.0, 12.0], e, binding_ev=29.57, band_gap_ev=0.67)
    np.testing.assert_allclose(np.trapezoid(s, e, axis=1), 10.0, rtol=1e-3)


def test_ge_3d_momentum_distribution_is_basis_converged(germanium):
    qz = {o.label: o for o in A.atomic_orbitals("Ge", "def2-qzvpp")}
    cc = {o.label: o for o in A.atomic_orbitals("Ge", "cc-pvtz")}
    p = np.linspace(0.5, 12.0, 24)
    ref = A.momentum_wavefunction(qz["3d"], p) ** 2
    for other in (germanium, cc):
        got = A.momentum_wavefunction(other["3d"], p) ** 2
        np.testing.assert_allclose(got, ref, rtol=0.05, atol=0.03 * ref.max())


def _gaussian_s(alpha: float) -> A.RadialOrbital:
    norm = np.sqrt(2 * (2 * alpha) ** 1.5 / gamma(1.5))
    return A.RadialOrbital("X", "1s", 0, 2.0, -1.0, np.array([alpha]), np.array([norm]))


def test_conversion_to_f2_matches_the_crystal_normalisation_on_an_empty_lattice():
    """One doubly occupied Gaussian orbital per simple-cubic cell, plane-wave final states.

    Crystal route (Γ only, N_k = 1): ⟨G'|e^{iG·r}|φ⟩ = φ̃(G'−G)/√V at E = E_b + G'²/2,
    binned and normalised by ``normalise_histogram`` (one spatial orbital). PWA route:
    :func:`shell_f2` with N_occ = 2. They must agree up to the lattice discreteness.
    """
    orb, side, binding = _gaussian_s(0.7), 16.0, 5.0
    volume = side**3
    n = np.arange(-12, 13)
    g = np.stack(np.meshgrid(n, n, n, indexing="ij"), -1).reshape(-1, 3) * (2 * np.pi / side)
    g_len = np.linalg.norm(g, axis=1)
    settings = FormFactorSettings(kmesh=(1, 1, 1), dq=0.5, n_q=6, dE=10.0, n_E=12)
    q_sel = g[g_len < settings.dq * settings.n_q]
    e_fin = binding + 0.5 * g_len**2 * A.HARTREE_EV
    f_sel = g[e_fin < settings.dE * settings.n_E]
    e_sel = e_fin[e_fin < settings.dE * settings.n_E]
    hist = np.zeros((settings.n_q, settings.n_E))
    iq = (np.linalg.norm(q_sel, axis=1) / settings.dq).astype(int)
    ie = (e_sel / settings.dE).astype(int)
    for qv, b in zip(q_sel, iq, strict=True):
        chi = A.momentum_wavefunction(orb, np.linalg.norm(f_sel - qv, axis=1))
        hist[b] += np.bincount(ie, weights=chi**2 / (4 * np.pi) / volume, minlength=settings.n_E)
    crystal = normalise_histogram(hist, n_k=1, cell_volume_bohr3=volume, settings=settings)
    q_centres = (np.arange(settings.n_q) + 0.5) * settings.dq
    e_centres = (np.arange(settings.n_E) + 0.5) * settings.dE
    pwa = A.shell_f2(
        [(orb, binding, 1)], q_centres, e_centres, band_gap_ev=0.0, de_ev=settings.dE, n_sub=40
    )
    # the lattice's q vectors and final states come in discrete shells: single bins scatter
    # by ~20 %, sums over several bins agree to a few per cent (no factor 2 or 4π missing)
    rows = slice(2, 6)
    np.testing.assert_allclose(crystal[rows].sum(1), pwa[rows].sum(1), rtol=0.25)
    assert crystal[rows].sum() == pytest.approx(pwa[rows].sum(), rel=0.04)


def test_shell_f2_refuses_zero_sub_samples(germanium):
    with pytest.raises(A.InputValidationError):
        A.shell_f2(
            [(germanium["3d"], 29.57, 2)], [1.0], [40.0], band_gap_ev=0.67, de_ev=0.1, n_sub=0
        )
