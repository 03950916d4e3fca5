"""Tests of the PySCF form-factor pipeline on a tiny silicon calculation (see conftest).

Every test here runs PySCF (the session's tiny SCF and k-pair sums, real-space
quadratures): marked slow, so ``-m "not slow"`` skips them and ``make test`` runs them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from acie.darkmatter.formfactor import dft, transitions
from acie.darkmatter.formfactor.io import read_acie, write_acie
from acie.darkmatter.formfactor.runner import compute_form_factor
from acie.darkmatter.formfactor.settings import FormFactorSettings
from acie.darkmatter.materials import get_material
from acie.errors import ConflictError, InputValidationError, NonPhysicalValueError, OutOfRangeError

pytestmark = pytest.mark.slow


def _quadrature(cell, k_i, k_f, q, mesh=48):
    # Independent reference: the same Bloch-AO integral on a uniform real-space grid.
    from pyscf.pbc.dft import numint

    coords = cell.get_uniform_grids([mesh] * 3)
    w = cell.vol / len(coords)
    ao_i = numint.eval_ao(cell, coords, kpt=k_i)
    ao_f = numint.eval_ao(cell, coords, kpt=k_f)
    return np.einsum("ra,rq,rb->qab", ao_f.conj() * w, np.exp(1j * coords @ q.T), ao_i)


def test_scissor_puts_vbm_at_zero_and_gap_at_experiment(si):
    _, b = si
    gap = b.energies[:, b.n_occ :].min() - b.energies[:, : b.n_occ].max()
    assert b.energies[:, : b.n_occ].max() == pytest.approx(0.0, abs=1e-12)
    assert gap == pytest.approx(get_material("Si").band_gap, abs=1e-9)
    # LDA with a minimal basis: gap of order 1-3 eV, shift = experiment - DFT
    assert b.scissor_shift == pytest.approx(1.12 - b.dft_gap, abs=1e-12)


def test_ao_pair_transforms_match_real_space_quadrature(si):
    # ft_aopair_kpts convention vs a 48³ grid quadrature of ∫_cell φ*_{a,k'} e^{iq·r} φ_{b,k};
    # the integrand is smooth (no cusps with GTH), so the grid error is < 1e-6.
    # k-points ±b/3 of the (3,1,1) mesh: k ≢ −k, so a k ↔ −k phase error cannot hide
    cell, b = si
    for i, j in ((1, 2), (0, 1), (2, 2)):
        k_i, k_f = b.kpts[i], b.kpts[j]
        g = cell.reciprocal_vectors()
        q = np.array([k_f - k_i, k_f - k_i + g[0], k_f - k_i - g[1] + g[2]])
        eye = np.eye(cell.nao)
        got = transitions.transition_matrix_elements(cell, k_i, q, eye, eye)
        assert np.max(np.abs(got - _quadrature(cell, k_i, k_f, q))) < 1e-6, (i, j)


def test_reverse_transition_uses_hermitian_conjugate(si):
    # ⟨a k| e^{-iq·r} |b k+q⟩ from the transposed-conjugated AO matrix equals a direct
    # evaluation with the roles of k and k' swapped.
    cell, b = si
    k_i, k_f = b.kpts[1], b.kpts[2]
    q = (k_f - k_i + cell.reciprocal_vectors()[0])[None, :]
    c_i, c_f = b.coeffs[1], b.coeffs[2]
    ao = transitions._ao_pair(cell, q, k_i)
    rev = transitions._reverse_elements(ao, c_i, c_f)
    direct = transitions.transition_matrix_elements(cell, k_f, -q, c_i, c_f)
    # equal to the lattice-sum truncation of PySCF (cell.precision = 1e-8)
    np.testing.assert_allclose(rev, direct, rtol=0, atol=1e-8)


def test_completeness_is_exact_at_q0_and_bounded_by_bessel(si):
    cell, b = si
    k = b.kpts[1]
    c_all = b.coeffs[1]
    # q = 0: orthonormal Bloch states -> Σ_f |⟨f|i⟩|² = 1 (to SCF/integral precision 1e-8)
    s0 = transitions.completeness_sums(cell, k, np.zeros((1, 3)), c_all, c_all[:, : b.n_occ])
    np.testing.assert_allclose(s0, 1.0, atol=1e-8)
    # q = G ≠ 0: Bessel's inequality Σ_f |⟨f|e^{iGr}|i⟩|² <= 1, and it drops with |G| as
    # the finite basis cannot represent e^{iG·r}ψ
    g = transitions.g_vectors(cell, 6.0, 0.0)[1:]
    sums = transitions.completeness_sums(cell, k, g, c_all, c_all[:, : b.n_occ])
    assert np.all(sums <= 1 + 1e-8)
    assert sums[-1].mean() < sums[0].mean()


def test_table_diagnostic_obeys_bessel(table):
    # per valence band, Σ_c |⟨c k'|e^{iq·r}|v k⟩|² averaged over (k, q-vector) <= 1 in every q
    # bin; a k ↔ −k phase error in the AO-pair transforms breaks this (values of 3-15 seen)
    comp = np.array(
        [np.nan if c is None else c for c in table.metadata["diagnostics"]["completeness_per_band"]]
    )
    assert np.nanmax(comp) <= 1 + 1e-8
    assert np.nanmax(comp) > 0.01


def test_form_factor_is_positive_and_respects_the_gap(table, tiny):
    f2 = table.f2
    assert np.all(f2 >= 0)
    assert f2.sum() > 0
    # no transition below the scissored gap (1.12 eV): E bins with upper edge < gap are empty
    below = table.energy_eV + 0.5 * tiny.dE < 1.12
    assert np.all(f2[:, below] == 0)


def test_normalisation_matches_an_independent_evaluation(si, table, tiny):
    # Recompute f2 for a few (q, E) bins from real-space-quadrature matrix elements and the
    # QCDark formula typed out here (Dreyer et al. 2024 eq. (13); routines.py getprefactor /
    # bin_to_f2): f2 = 2π²/(α mₑ² V) · q/(Δq ΔE) · N_k⁻² Σ |M|². Tolerance 1e-5 (quadrature).
    cell, b = si
    val, cond = dft.band_window(b, tiny)
    g = transitions.g_vectors(cell, tiny.q_max, 2 * np.max(np.linalg.norm(b.kpts, axis=1)))
    hist = np.zeros((tiny.n_q, tiny.n_E))
    for i in range(3):
        for j in range(3):
            q = b.kpts[j] - b.kpts[i] + g
            q = q[np.linalg.norm(q, axis=1) < 1.0]  # first bins only (cheap)
            m = _quadrature(cell, b.kpts[i], b.kpts[j], q, mesh=40)
            mo = np.einsum("am,qab,bn->qmn", b.coeffs[j][:, cond].conj(), m, b.coeffs[i][:, val])
            e = b.energies[j, cond][:, None] - b.energies[i, val][None, :]
            for iq, p in zip(
                np.floor(np.linalg.norm(q, axis=1) / tiny.dq).astype(int),
                np.abs(mo) ** 2,
                strict=True,
            ):
                ie = np.floor(e / tiny.dE).astype(int)
                ok = ie < tiny.n_E
                np.add.at(hist[iq], ie[ok], p[ok])
    hbarc_ev_bohr = 0.1973269804e-6 / 5.29177210903e-11
    v_ev3 = cell.vol / hbarc_ev_bohr**3
    pref = 2 * np.pi**2 / ((1 / 137) * 0.51099895e6**2 * v_ev3)
    qc = (np.arange(tiny.n_q) + 0.5) * tiny.dq
    ref = hist / 9 * pref * qc[:, None] / (tiny.dq * tiny.dE)
    n = int(1.0 / tiny.dq) - 1
    assert ref[:n].sum() > 0
    np.testing.assert_allclose(table.f2[:n], ref[:n], rtol=1e-5, atol=1e-9 * ref.max())


def test_blocks_workers_and_resume_give_identical_output(si, table, tmp_path, tiny):
    _, bands = si
    # interrupted after one block, then resumed: bit-identical to the uninterrupted run
    wd = tmp_path / "work"
    assert (
        compute_form_factor("Si", tiny, workdir=wd, progress=False, bands=bands, max_blocks=1)
        is None
    )
    assert len(list(wd.glob("block_*.npz"))) == 1
    resumed = compute_form_factor("Si", tiny, workdir=wd, progress=False)
    np.testing.assert_array_equal(resumed.f2, table.f2)
    assert not list(wd.glob("*.tmp"))
    # other block sizes: same sums up to floating-point reassociation
    other = FormFactorSettings(**{**tiny.as_dict(), "kmesh": (3, 1, 1), "pairs_per_block": 4})
    np.testing.assert_allclose(
        compute_form_factor("Si", other, progress=False, bands=bands).f2,
        table.f2,
        rtol=1e-12,
        atol=1e-12 * table.f2.max(),
    )
    # settings changed under the same workdir -> refused
    with pytest.raises(ConflictError, match="checkpoint"):
        compute_form_factor("Si", other, workdir=wd, progress=False, bands=bands)


def test_parallel_workers_match_serial(si, table, tiny):
    _, bands = si
    par = compute_form_factor("Si", tiny, progress=False, bands=bands, n_workers=2)
    np.testing.assert_array_equal(par.f2, table.f2)


def test_hdf5_round_trip_keeps_values_and_provenance(table, tmp_path):
    path = write_acie(table, tmp_path / "Si.h5")
    back = read_acie(path)
    np.testing.assert_array_equal(back.f2, table.f2)
    np.testing.assert_allclose(back.q_keV, table.q_keV)
    assert back.metadata["settings"]["basis"] == "gth-szv"
    assert back.metadata["software"]["pyscf"]
    assert back.metadata["timings"]["dft_seconds"] > 0
    json.dumps(back.metadata)


def test_q_grid_is_qcdark_binning(table):
    # bin centres (i + 1/2) dq in units of α mₑ = 3.7289 keV (CODATA α mₑ c)
    assert table.q_keV[0] == pytest.approx(0.5 * 0.05 * 3.7289, rel=1e-4)
    assert table.energy_eV[1] - table.energy_eV[0] == pytest.approx(0.25)


def test_bad_settings_raise_typed_errors(si):
    with pytest.raises(InputValidationError, match="kmesh"):
        FormFactorSettings(kmesh=(0, 1, 1))
    with pytest.raises(NonPhysicalValueError, match="dq"):
        FormFactorSettings(dq=-1.0)
    _, b = si
    with pytest.raises(OutOfRangeError, match="n_valence"):
        dft.band_window(b, FormFactorSettings(n_valence=99))
    with pytest.raises(InputValidationError, match="basis"):
        dft.build_cell("CsI", FormFactorSettings(basis="gth-szv", pseudo="gth-pade"))


def test_all_electron_option_and_band_window():
    # All-electron Si (STO-3G, Gaussian density fitting, Γ only): 14 occupied bands
    # (1s 2s 2p core + valence of Si₂). Core levels lie ~100 eV (2p) and deeper below the
    # valence band, so with E < 50 eV keeping only the top 4 valence bands must give the
    # identical f2 — a check of the band-window selection.
    settings = FormFactorSettings(
        kmesh=(1, 1, 1),
        basis="sto-3g",
        pseudo=None,
        xc="lda,vwn",
        density_fit=True,
        dq=0.05,
        n_q=50,
        dE=0.25,
        n_E=200,
    )
    cell = dft.build_cell("Si", settings)
    bands = dft.run_dft("Si", settings, cell=cell)
    assert bands.n_occ == 14
    assert bands.energies[0, : bands.n_occ - 4].max() < -50.0  # eV, core below the window
    full = compute_form_factor("Si", settings, progress=False, bands=bands)
    top4 = FormFactorSettings(**{**settings.as_dict(), "kmesh": (1, 1, 1), "n_valence": 4})
    np.testing.assert_array_equal(
        compute_form_factor("Si", top4, progress=False, bands=bands).f2, full.f2
    )
    assert full.f2.sum() > 0
