"""The shipped Si and Ge tables reach q = 20 α mₑ with the Ge 3d and valence shells (#20)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from acie.darkmatter.formfactor.io import read_acie
from acie.darkmatter.formfactor.shipped import shipped_table, shipped_table_path
from acie.darkmatter.selector import select_material
from acie.darkmatter.units import ALPHA, ME_EV

ALPHA_ME_KEV = ALPHA * ME_EV / 1e3


def _valence(name: str):
    return read_acie(shipped_table_path(name).parent / f"{name}_valence.h5")


@pytest.mark.parametrize("name", ["Si", "Ge"])
def test_shipped_tables_reach_twenty_alpha_me_with_their_provenance(name):
    t, val = shipped_table(name), _valence(name)
    dq = t.q_keV[1] - t.q_keV[0]
    assert (t.q_keV[-1] + dq / 2) / ALPHA_ME_KEV == pytest.approx(20.0, rel=1e-6)
    assert t.shape == (1000, 500)
    shells = t.metadata["settings"]["atomic_shells"]
    assert shells["final_states"] == "distorted-wave"
    assert shells["potential"] == "kohn-sham"
    assert shells["basis"] == "def2-tzvp"
    assert shells["energy_shift_eV"] == 0.0
    got = {p["shell"] for p in shells["parts"]}
    assert got == ({"3s", "3p"} if name == "Si" else {"3d", "4s", "4p"})
    # the DFT valence table is kept unchanged below its q edge (Si has no shell below 50 eV)
    n = val.shape[0]
    if name == "Si":
        np.testing.assert_array_equal(t.f2[:n], val.f2)
    else:
        below_3d = t.energy_eV < 29.57 + 0.67 - 0.05
        np.testing.assert_array_equal(t.f2[:n, below_3d], val.f2[:, below_3d])
        d3 = next(p for p in shells["parts"] if p["shell"] == "3d")
        assert d3["binding_below_vbm_eV"] == 29.57
        assert "Kraut" in d3["binding_source"]
        assert d3["atoms_per_cell"] * d3["electrons_per_atom"] == pytest.approx(20.0)


def test_ge_semicore_is_most_of_the_heavy_rate_at_high_mass():
    # the point: above ~100 MeV the heavy-mediator Ge rate is dominated by the 3d
    # at large q; the valence-only table had 0.19-0.24 of QCDark's rate there
    from acie.darkmatter.electron import total_rate

    sigma = 1e-37 * u.cm**2
    full = total_rate(shipped_table("Ge"), [10, 1000] * u.MeV, sigma).value
    valence = total_rate(_valence("Ge"), [10, 1000] * u.MeV, sigma).value
    assert full[0] / valence[0] == pytest.approx(1.03, abs=0.05)
    assert full[1] / valence[1] == pytest.approx(6.70, rel=0.05)  # 6.06 on the PBE valence


@pytest.mark.parametrize("mass_mev", [300, 1000])
def test_selector_ranks_germanium_first_at_high_mass_as_with_qcdarks_ge(qcdark_ge, mass_mev):
    # Regression (#20): with the valence-only tables Si ranked first at every mass above
    # ~100 MeV; with QCDark's all-electron Ge, Ge does. The shipped tables now agree.
    ours = {"Si": shipped_table("Si"), "Ge": shipped_table("Ge")}
    valence = {"Si": _valence("Si"), "Ge": _valence("Ge")}
    reference = {"Si": shipped_table("Si"), "Ge": qcdark_ge}
    args = (mass_mev * u.MeV, 1 * u.kg * u.yr, 2)
    assert select_material(*args, tables=reference).best == "Ge"
    assert select_material(*args, tables=ours).best == "Ge"
    assert select_material(*args, tables=valence).best == "Si"
