"""Tests of rate comparisons, the convergence study and the settings advisor."""

from __future__ import annotations

from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest

from acie.darkmatter.formfactor.convergence import (
    compare_rates,
    convergence_study,
    recommend_settings,
    truncate_q,
)
from acie.errors import InputValidationError

MASSES = np.geomspace(5, 1000, 6) * u.MeV


def test_a_table_compared_with_itself_gives_ratio_one(qcdark_ge):
    cmp = compare_rates(qcdark_ge, qcdark_ge, MASSES)
    for med in ("heavy", "light"):
        np.testing.assert_allclose(cmp.ratio[med], 1.0, rtol=1e-12)
    assert len(cmp.as_rows()) == 2 * len(MASSES)


def test_truncating_q_removes_rate_and_ratio_cut_accounts_for_it(qcdark_ge):
    # A table cut at 4 α mₑ misses the high-q (3d core) strength: rate ratio < 1 for the
    # heavy mediator at high mass, while the same-q-range ratio is exactly 1.
    cut = truncate_q(qcdark_ge, 14.9 * u.keV)
    cmp = compare_rates(cut, qcdark_ge, MASSES)
    assert np.all(cmp.ratio["heavy"] <= 1 + 1e-12)
    assert cmp.ratio["heavy"][-1] < 0.99
    np.testing.assert_allclose(cmp.ratio_cut["heavy"], 1.0, rtol=1e-12)
    # the light mediator weighs low q (|F_DM|² ∝ q⁻⁴): it loses much less than the heavy one
    assert cmp.ratio["light"][-1] > cmp.ratio["heavy"][-1]
    with pytest.raises(InputValidationError, match="q_max"):
        truncate_q(qcdark_ge, 0.01 * u.keV)


def test_advisor_picks_the_cheapest_setting_within_tolerance(qcdark_ge):
    # Synthetic study from one real table: "cheap" = f2 scaled by 0.95 (5 % low),
    # "mid" = 0.8 (20 % low), "ref" = the table itself. Rates are linear in f2.
    def tagged(scale, kmesh, nao):
        meta = {
            "settings": {"kmesh": kmesh, "n_ao": nao, "basis": "b", "dft_gap_eV": 0.5},
            "timings": {"x": 1.0},
        }
        return replace(qcdark_ge, f2=qcdark_ge.f2 * scale, metadata=meta)

    tables = {
        "cheap": tagged(0.95, [1, 1, 1], 8),
        "mid": tagged(0.8, [2, 2, 2], 8),
        "ref": tagged(1.0, [2, 2, 2], 26),
    }
    study = convergence_study("Ge", MASSES, tables=tables)
    assert study.reference().label == "ref"
    dev = study.deviations()
    assert dev["cheap"] == pytest.approx(0.05, rel=1e-9)
    assert dev["mid"] == pytest.approx(0.2, rel=1e-9)
    advice = recommend_settings(study, rtol=0.1)
    assert advice["recommended"] == "cheap"
    assert "within 10%" in advice["reason"]
    assert recommend_settings(study, rtol=0.01)["recommended"] == "ref"
    with pytest.raises(InputValidationError):
        convergence_study("Ge", MASSES, tables={"only": tables["ref"]})


@pytest.mark.slow
def test_study_on_real_dft_tables(table, si, tiny):
    # Γ-only vs (3,1,1) tiny silicon runs: both positive, the study runs end to end
    from acie.darkmatter.formfactor import FormFactorSettings, run_dft
    from acie.darkmatter.formfactor.runner import compute_form_factor

    gamma = FormFactorSettings(**{**tiny.as_dict(), "kmesh": (1, 1, 1)})
    t1 = compute_form_factor("Si", gamma, progress=False, bands=run_dft("Si", gamma, cell=si[0]))
    study = convergence_study("Si", MASSES[:3], tables={"1x1x1": t1, "3x1x1": table})
    assert study.reference().label == "3x1x1"
    for p in study.points:
        assert np.all(p.rates["heavy"] > 0)
    assert recommend_settings(study, rtol=0.99)["recommended"] in ("1x1x1", "3x1x1")
