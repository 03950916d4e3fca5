"""The fraction of an electron rate beyond a table's q/E range, estimated and warned about (#20).

Reference: QCDark's all-electron Ge (q to 20 α mₑ), truncated here at q ≤ 250 dq (18.6 keV,
about the shipped tables' range); the true beyond fraction is 1 − R(truncated)/R(full).
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest
from reference_data import QCDARK_GE
from reference_data import needs_qcdark_ge as needs_ge

from acie.darkmatter.electron import rate_per_ne, total_rate
from acie.darkmatter.formfactor.io import read_qcdark
from acie.darkmatter.formfactor.shipped import shipped_table
from acie.darkmatter.table_range import TableRangeWarning, beyond_table_fraction

MASSES = np.array([10.0, 100.0, 1000.0]) * u.MeV
SIGMA = 1e-37 * u.cm**2


def _truncate(t, n_q):
    return replace(t, q=t.q[:n_q], f2=t.f2[:n_q])


@needs_ge
def test_estimate_matches_truth_on_a_table_truncated_in_q():
    full = read_qcdark(QCDARK_GE)
    cut = _truncate(full, 250)
    truth = 1 - (total_rate(cut, MASSES, SIGMA) / total_rate(full, MASSES, SIGMA)).value
    est = beyond_table_fraction(cut, MASSES)
    # measured: truth 0.03 / 0.78 / 0.82, estimate 0.01 / 0.83 / 0.92
    assert truth[1] > 0.5  # the truncation matters at 100 MeV
    np.testing.assert_allclose(est, truth, atol=0.12)
    # the untruncated table: its own estimate is smaller than the truncated one's
    assert np.all(beyond_table_fraction(full, MASSES)[1:] < est[1:])


@needs_ge
def test_rate_per_ne_warns_and_reports():
    cut = _truncate(read_qcdark(QCDARK_GE), 250)
    with pytest.warns(TableRangeWarning, match=r"Ge: an estimated .*% of the rate lies beyond"):
        r = rate_per_ne(cut, 100 * u.MeV, SIGMA, n_max=4)
    assert float(r.beyond_table) > 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = rate_per_ne(cut, 100 * u.MeV, SIGMA, n_max=4, warn_beyond=0.99)
        rate_per_ne(cut, 100 * u.MeV, SIGMA, n_max=4, warn_beyond=None)


def test_fraction_is_zero_when_kinematics_stay_inside_the_table():
    si = shipped_table("Si")
    # 1 MeV: q ≤ 2 m v_max ≈ 5.3 keV and E ≤ ½ m v_max² ≈ 3.6 eV, inside the table
    assert beyond_table_fraction(si, 1 * u.MeV) == pytest.approx(0.0, abs=1e-12)
    f = beyond_table_fraction(si, MASSES, mediator="light")
    assert f.shape == (3,)
    assert np.all((f >= 0) & (f < 0.05))
