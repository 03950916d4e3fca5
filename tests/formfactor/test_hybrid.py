"""One-shot hybrid bands (``acie.darkmatter.formfactor.hybrid``) against PySCF's own hybrid Fock.

Tiny setting (the session's Si of ``conftest``: GTH-SZV, LDA, (3,1,1) k-mesh, 25 Ha): the
correction of the semi-local Fock matrix must equal the Fock matrix PySCF builds for
the hybrid functional from the same density matrix (a closed identity, 1e-9 Ha), and
the partner grid must be a sub-grid of the mesh containing k itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from acie.darkmatter.formfactor import dft
from acie.darkmatter.formfactor.hybrid import exchange_partners, one_shot_hybrid
from acie.darkmatter.formfactor.settings import FormFactorSettings
from acie.errors import InputValidationError


@pytest.fixture(scope="module")
def lda_si(tiny):
    from pyscf.pbc import dft as pdft

    cell = dft.build_cell("Si", tiny)
    kpts = cell.make_kpts(list(tiny.kmesh), wrap_around=True, with_gamma_point=True)
    mf = pdft.KRKS(cell, kpts)
    mf.xc = tiny.xc
    mf.conv_tol = 1e-10
    mf.verbose = 0
    mf.kernel()
    assert mf.converged
    return cell, kpts, mf


def _hybrid_fock_bands(cell, kpts, dm, xc):
    from pyscf.pbc import dft as pdft

    ref = pdft.KRKS(cell, kpts)
    ref.xc = xc
    ref.verbose = 0
    fock, ovlp = ref.get_fock(dm=dm), ref.get_ovlp()
    return np.array(ref.eig(fock, ovlp)[0])


@pytest.mark.parametrize("fraction", [0.25, 0.5])
def test_one_shot_equals_pyscf_hybrid_fock_of_the_same_density(lda_si, tiny, fraction):
    cell, kpts, mf = lda_si
    energies, coeffs, info = one_shot_hybrid(
        mf, fraction=fraction, kmesh=tiny.kmesh, semilocal_exchange="lda,"
    )
    xc = f"{fraction}*HF + {1 - fraction}*LDA, VWN"
    expected = _hybrid_fock_bands(cell, kpts, mf.make_rdm1(), xc)
    np.testing.assert_allclose(energies, expected, atol=1e-9)
    # exact exchange opens the LDA gap, and the bands stay orthonormal in the overlap
    n_occ = cell.nelectron // 2
    lda = np.asarray(mf.mo_energy)
    gap = energies[:, n_occ:].min() - energies[:, :n_occ].max()
    assert gap > lda[:, n_occ:].min() - lda[:, :n_occ].max() + 0.01
    s = np.asarray(mf.get_ovlp())
    for k in range(len(kpts)):
        np.testing.assert_allclose(
            coeffs[k].conj().T @ s[k] @ coeffs[k], np.eye(s.shape[1]), atol=1e-8
        )
    assert info["hybrid_fraction"] == fraction
    assert info["exchange_kmesh"] == [3, 1, 1]


def test_reduced_exchange_grid_uses_only_k_itself_on_a_one_point_grid(lda_si, tiny):
    """(3,1,1) mesh, exchange grid (1,1,1): each k's exchange comes from k alone."""
    cell, kpts, mf = lda_si
    energies, _, _ = one_shot_hybrid(
        mf, kmesh=tiny.kmesh, exchange_kmesh=(1, 1, 1), semilocal_exchange="lda,"
    )
    full, _, _ = one_shot_hybrid(mf, kmesh=tiny.kmesh, semilocal_exchange="lda,")
    assert np.abs(energies - full).max() > 1e-4  # a different approximation, not a no-op
    # k = 0 by hand: a one-k-point hybrid Fock built by PySCF at Γ from Γ's density matrix
    from pyscf.pbc import dft as pdft

    gamma = int(np.argmin(np.linalg.norm(kpts, axis=1)))
    one = pdft.KRKS(cell, kpts[[gamma]])
    one.xc = "0.25*HF + 0.75*LDA, VWN"
    one.verbose = 0
    dm = np.asarray(mf.make_rdm1())[[gamma]]
    # the semi-local part from the whole mesh's density, the exchange from Γ alone
    vk = one.get_k(cell, dm, kpts=kpts[[gamma]])[0]
    sl = np.asarray(mf.get_fock())[gamma]
    _, _, vx = mf._numint.nr_rks(cell, mf.grids, "lda,", mf.make_rdm1(), kpts=kpts)
    fock = sl - 0.25 * np.asarray(vx)[gamma] - 0.125 * vk
    e = scipy.linalg.eigh(fock, np.asarray(mf.get_ovlp())[gamma], eigvals_only=True)
    np.testing.assert_allclose(energies[gamma], e, atol=1e-9)


def test_partners_are_the_reduced_grid_shifted_to_each_k(si):
    cell, _ = si
    kpts = cell.make_kpts([4, 4, 4], wrap_around=True, with_gamma_point=True)
    rows = exchange_partners(cell, kpts, (4, 4, 4), (2, 2, 2))
    assert rows.shape == (64, 8)
    assert (rows[:, 0] == np.arange(64)).all()
    frac = kpts @ cell.lattice_vectors().T / (2 * np.pi)
    for i, row in enumerate(rows):
        assert len(set(row)) == 8
        d = (frac[row] - frac[i]) * 2  # partners differ by multiples of 1/2
        np.testing.assert_allclose(d, np.rint(d), atol=1e-9)
    # partners on the whole mesh: every k-point once per row
    for row in exchange_partners(cell, kpts, (4, 4, 4), (4, 4, 4)):
        assert sorted(row) == list(range(64))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hybrid_fraction": 1.5}, "hybrid_fraction"),
        ({"hybrid_fraction": -0.1}, "hybrid_fraction"),
        ({"kmesh": (4, 4, 4), "exchange_kmesh": (3, 3, 3)}, "exchange_kmesh"),
        ({"kmesh": (4, 4, 4), "exchange_kmesh": (2, 2)}, "exchange_kmesh"),
    ],
)
def test_settings_refuse_bad_hybrid_options(kwargs, match):
    with pytest.raises(InputValidationError, match=match):
        FormFactorSettings(**kwargs)


def test_settings_without_hybrid_keep_the_old_keys():
    """Tables and checkpoints made before the option keep their settings keys."""
    plain = FormFactorSettings()
    assert "hybrid_fraction" not in plain.as_dict()
    assert "exchange_kmesh" not in plain.dft_key()
    hyb = FormFactorSettings(kmesh=(4, 4, 4), hybrid_fraction=0.25, exchange_kmesh=(2, 2, 2))
    assert hyb.dft_key()["hybrid_fraction"] == 0.25
    assert hyb.dft_key()["exchange_kmesh"] == [2, 2, 2]


def test_run_dft_refuses_a_hybrid_xc_before_the_scf():
    s = FormFactorSettings(
        kmesh=(1, 1, 1),
        xc="pbe0",
        hybrid_fraction=0.25,
        basis="gth-szv",
        pseudo="gth-pade",
        ke_cutoff=25.0,
    )
    with pytest.raises(InputValidationError, match="semi-local"):
        dft.run_dft("Si", s)


def test_run_dft_with_a_hybrid_records_it_and_shows_progress(tiny):
    import io
    from dataclasses import replace

    from acie.darkmatter.formfactor.progress import Progress

    s = replace(tiny, hybrid_fraction=0.25)
    out = io.StringIO()
    with Progress(stream=out).scf(s.conv_tol) as monitor:
        bands = dft.run_dft("Si", s, monitor=monitor)
    assert "one-shot hybrid: 3/3 k-points" in out.getvalue()
    assert bands.info["hybrid_fraction"] == 0.25
    assert bands.info["hybrid_seconds"] > 0
    plain = dft.run_dft("Si", tiny)
    assert bands.dft_gap > plain.dft_gap + 0.1  # eV: exact exchange opens the LDA gap


def test_estimate_counts_the_hybrid_in_the_scf_stage():
    from acie.darkmatter.formfactor.estimate import estimate_run

    ge = {"n_k": 64, "n_ao": 26, "n_grid": 37**3, "n_images": 459, "n_q_vectors": 10**6}
    plain = estimate_run(**ge, load=0.0, cores=2)
    hyb = estimate_run(**ge, n_exchange_pairs=4096, load=0.0, cores=2)
    # measured: 0.45 s wall per exchange pair with 2 threads (Ge, GTH-DZVP, 37³ grid)
    assert hyb.scf_s - plain.scf_s == pytest.approx(4096 * 0.45, rel=0.1)
    assert hyb.pairs_s == plain.pairs_s
    assert estimate_run(**ge, n_exchange_pairs=4096, run_scf=False).scf_s == 0.0
