"""Shared fixtures: one tiny silicon DFT per test session (seconds).

Tiny setting: Si primitive cell, GTH-SZV minimal basis, GTH-Pade, LDA, a (3,1,1) k-mesh
(k ≠ k' pairs exist, and k = ±b/3 are not their own inverses), 25 hartree density cutoff, q < 4 α mₑ.
"""

from __future__ import annotations

import pytest
from reference_data import QCDARK_GE, require

from acie.darkmatter.formfactor import dft
from acie.darkmatter.formfactor.settings import FormFactorSettings

TINY = FormFactorSettings(
    kmesh=(3, 1, 1),
    basis="gth-szv",
    pseudo="gth-pade",
    xc="lda,vwn",
    ke_cutoff=25.0,
    dq=0.05,
    n_q=80,
    dE=0.25,
    n_E=160,
    conv_tol=1e-9,
    pairs_per_block=1,
)


@pytest.fixture(scope="session")
def si():
    cell = dft.build_cell("Si", TINY)
    bands = dft.run_dft("Si", TINY, cell=cell)
    return cell, bands


@pytest.fixture(scope="session")
def table(si):
    from acie.darkmatter.formfactor.runner import compute_form_factor

    _, bands = si
    return compute_form_factor("Si", TINY, progress=False, bands=bands)


@pytest.fixture(scope="session")
def qcdark_path():
    return require(QCDARK_GE)


@pytest.fixture(scope="session")
def qcdark_ge():
    from acie.darkmatter.formfactor.io import read_qcdark

    return read_qcdark(require(QCDARK_GE), material="Ge")


@pytest.fixture(scope="session")
def tiny():
    return TINY
