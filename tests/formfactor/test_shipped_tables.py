"""Tests of the shipped form-factor tables (acie/darkmatter/formfactor/data/*.h5) and their provenance."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from acie.darkmatter.formfactor.shipped import shipped_materials, shipped_table, shipped_table_path
from acie.darkmatter.materials import get_material
from acie.errors import UnknownNameError

SHIPPED = shipped_materials()
#: k-meshes of the shipped tables (REFERENCE.md; scripts/make_formfactor_tables.sh)
KMESH = {"Si": [3, 3, 3], "Ge": [4, 4, 4], "GaAs": [3, 3, 3], "NaI": [3, 3, 3], "CsI": [3, 3, 3]}


def test_at_least_silicon_and_germanium_are_shipped():
    assert {"Si", "Ge"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_table_is_small_physical_and_documented(name):
    path = shipped_table_path(name)
    assert path.stat().st_size < 5e6  # compressed, well under 5 MB
    t = shipped_table(name)
    mat = get_material(name)
    assert t.material == mat.name
    assert t.scissor_applied
    assert t.band_gap_eV == pytest.approx(mat.band_gap)
    assert np.all(t.f2 >= 0)
    assert t.f2.sum() > 0
    below = t.energy_eV + 0.05 < mat.band_gap  # bins entirely below the gap are empty
    assert np.all(t.f2[:, below] == 0)
    s = t.metadata["settings"]
    assert s["kmesh"] == KMESH[name]
    assert s["basis"] == "gth-dzvp-molopt-sr"
    assert s["pseudo"] == "gth-pbe"
    assert t.metadata["software"]["pyscf"]
    assert t.metadata["timings"]["dft_seconds"] > 0
    # cell volume = primitive-cell volume from the library (Å³ -> bohr³, CODATA a0)
    assert t.cell_volume_bohr3 == pytest.approx(mat.cell_volume / 0.529177210903**3, rel=1e-9)
    # Bessel bound on the stored completeness diagnostic
    comp = np.array(
        [np.nan if c is None else c for c in t.metadata["diagnostics"]["completeness_per_band"]]
    )
    assert np.nanmax(comp) <= 1 + 1e-8


def test_unknown_or_missing_table():
    with pytest.raises(UnknownNameError, match="known materials"):
        shipped_table("Xe")


def test_shipped_germanium_against_qcdark(qcdark_ge):
    # Evidence, not a fit: our Ge (valence-only 4x4x4 GTH DFT with one-shot PBE0@PBE bands
    # for q < 4 α mₑ, plus the isolated-atom 3d and 4s4p shells with distorted-wave final
    # states in the atom's Kohn-Sham LDA potential to q = 20 α mₑ) against QCDark's
    # all-electron 6x6x6 PBE0 Ge (total rates at σ̄e = 1e-37 cm²; measured ratios in
    # REFERENCE.md). Issue #20's goal: heavy within 30 % from 10 MeV to 1 GeV (measured
    # 1.01-1.12), light within 30 % from 1 MeV (measured 0.88-1.14). With the plain-PBE
    # valence (Ge_4x4x4_pbe.h5) the light rate at 1 MeV was 0.68; with Herman-Skillman
    # final states the heavy rate was 1.52-1.56 at 100 MeV - 1 GeV; the valence-only table
    # is 0.17-0.21 there.
    from acie.darkmatter.formfactor.convergence import compare_rates

    masses = [1, 3, 10, 30, 100, 300, 1000] * u.MeV
    cmp = compare_rates(shipped_table("Ge"), qcdark_ge, masses)
    assert np.all(np.abs(cmp.ratio["light"] - 1) < 0.3), cmp.ratio
    assert np.all(np.abs(cmp.ratio["heavy"][2:] - 1) < 0.3), cmp.ratio


def test_plain_pbe_valence_missed_the_light_mediator_at_1_mev(qcdark_ge):
    # The regression the PBE0@PBE valence repairs: PBE + a rigid scissor puts Ge's
    # conduction minimum at Γ (PBE gap 0.05 eV there), and its light-mediator rate at 1 MeV
    # is 0.68 of QCDark's; the one-shot hybrid gives 0.88.
    from acie.darkmatter.formfactor.convergence import compare_rates
    from acie.darkmatter.formfactor.io import read_acie

    folder = shipped_table_path("Ge").parent
    one = [1] * u.MeV
    pbe = compare_rates(read_acie(folder / "Ge_4x4x4_pbe.h5"), qcdark_ge, one).ratio["light"]
    hyb = compare_rates(read_acie(folder / "Ge_valence.h5"), qcdark_ge, one).ratio["light"]
    assert pbe[0] < 0.7
    assert 0.8 < hyb[0] < 1.2


def test_valence_only_germanium_against_qcdark(qcdark_ge):
    # The valence-only table (kept as Ge_valence.h5): inside its q range (< 4 α mₑ) within
    # -20 %/+30 % of QCDark (measured +0 to +4 % at 10 MeV - 1 GeV); over QCDark's full
    # range its heavy-mediator rate at 1 GeV is LOWER by more than 2x (no 3d, no q > 4 α mₑ).
    from acie.darkmatter.formfactor.convergence import compare_rates
    from acie.darkmatter.formfactor.io import read_acie

    valence = read_acie(shipped_table_path("Ge").parent / "Ge_valence.h5")
    cmp = compare_rates(valence, qcdark_ge, [10, 100, 1000] * u.MeV)
    for med in ("heavy", "light"):
        assert np.all((cmp.ratio_cut[med] > 0.8) & (cmp.ratio_cut[med] < 1.3)), cmp.ratio_cut
    assert cmp.ratio["heavy"][-1] < 0.5


def test_germanium_k_mesh_converges_towards_qcdark(qcdark_ge):
    # k-mesh convergence evidence: 2x2x2 -> 3x3x3 -> 4x4x4 (all plain PBE) approach QCDark
    # (6x6x6) monotonically in the common q range, for both mediators at 10 MeV - 1 GeV.
    from acie.darkmatter.formfactor.convergence import compare_rates
    from acie.darkmatter.formfactor.io import read_acie

    folder = shipped_table_path("Ge").parent
    tables = [
        read_acie(folder / "Ge_2x2x2.h5"),
        read_acie(folder / "Ge_3x3x3.h5"),
        read_acie(folder / "Ge_4x4x4_pbe.h5"),
    ]
    errs = {med: [] for med in ("heavy", "light")}
    for t in tables:
        cmp = compare_rates(t, qcdark_ge, [10, 100, 1000] * u.MeV)
        for med in errs:
            errs[med].append(np.abs(np.log(cmp.ratio_cut[med])))
    for med, e in errs.items():
        assert np.all(e[2] < e[1]), (med, e)
        assert np.all(e[1] < e[0]), (med, e)
