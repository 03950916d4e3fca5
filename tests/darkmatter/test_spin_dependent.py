"""Spin-dependent WIMP–nucleus rates: q=0 normalisation, wimprates, missing isotopes, bad input."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest

from acie.darkmatter import targets as T
from acie.darkmatter.nuclear import dr_de
from acie.darkmatter.spin_dependent import dr_de_sd, dr_de_sd_kernel
from acie.darkmatter.structure_functions import (
    available_sd_isotopes,
    sd_nuclei,
    structure_function,
)
from acie.darkmatter.units import AMU_EV
from acie.errors import NonPhysicalValueError, OutOfRangeError, UnknownNameError

from ._wimprates_align import aligned_halo_and_factor, wimprates_modules

SIGMA = 1e-40 * u.cm**2


def test_shipped_isotopes_and_q0_spin_expectation():
    assert available_sd_isotopes() == [
        "Al27",
        "F19",
        "Ge73",
        "I127",
        "Na23",
        "Si29",
        "Xe129",
        "Xe131",
    ]
    # S_n(0) = (2J+1)(J+1)<S_n>^2/(pi J) (a0 = -a1 = 1): <S_n> of 129Xe with two-body currents
    # must lie between the one-body value 0.329 and the 0.2-0.3 range of Klos 2013 Table I
    s0 = structure_function("Xe129", "neutron", np.array([0.0]))[0]
    j = 0.5
    s_n = math.sqrt(s0 * math.pi * j / ((2 * j + 1) * (j + 1)))
    assert 0.2 < s_n < 0.33
    # proton coupling of the neutron-odd Xe isotopes is ~30x weaker
    assert structure_function("Xe131", "p", np.array([0.0]))[0] < 0.05 * s0


@pytest.mark.parametrize("coupling", ["proton", "neutron"])
def test_agrees_with_wimprates_when_conventions_align(coupling):
    # wimprates: v_min from the mean atomic mass (131.293 u) for both isotopes, N_esc^2 slip,
    # its v_E and mu with m_p for both couplings; aligned here, the rest is numerics.
    wr, _ = wimprates_modules()
    h, nesc2, per_dru = aligned_halo_and_factor()
    es = np.array([2.0, 10.0, 30.0, 60.0])
    nuclei = [replace(n, mass_ev=131.293 * AMU_EV) for n in sd_nuclei(T.TARGETS["Xe"])]
    ours = dr_de_sd_kernel(
        es, 50.0, 1e-40, T.TARGETS["Xe"], h, coupling, nucleon_mass_u=1.007276466621, nuclei=nuclei
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = wr.rate_wimp_std(es, 50.0, 1e-40, interaction=f"SD_{coupling[0]}_central") / per_dru
    # tolerance 2 % (the issue's); measured agreement is ~1e-4 (adaptive quad vs closed form)
    np.testing.assert_allclose(ours * nesc2, ref, rtol=0.02)
    np.testing.assert_allclose(ours * nesc2, ref, rtol=1e-3)
    # default conventions (isotope masses in v_min) stay within 2 % below 40 keV as well
    default = dr_de_sd(es[:3] * u.keV, 50 * u.GeV, SIGMA, coupling=coupling, halo=h).value
    np.testing.assert_allclose(default * nesc2, ref[:3], rtol=0.02)


def test_sd_over_si_matches_textbook_ratio_at_low_q():
    # at E -> 0, F -> 1: dR_SD/dR_SI = sum_i w_i 4pi S_i(0)/(3(2J+1)) / sum_all w A^2 (mu_n ~ mu_p)
    e = np.array([0.01]) * u.keV
    sd = dr_de_sd(e, 100 * u.GeV, SIGMA, coupling="neutron").value
    si = dr_de(e, 100 * u.GeV, SIGMA, "Xe").value
    a, _, w = T.TARGETS["Xe"].nuclei()
    num = sum(
        n.weight
        * 4
        * math.pi
        * structure_function(n.name, "n", np.array([0.0]))[0]
        / (3 * (2 * n.spin + 1))
        for n in sd_nuclei(T.TARGETS["Xe"])
    )
    mchi = 100.0 / 0.93149410242  # 100 GeV in u
    mp, mn = 1.007276466621, 1.00866491595
    mu_p, mu_n = mchi * mp / (mchi + mp), mchi * mn / (mchi + mn)
    expected = num / np.sum(w * a**2) * (mu_p / mu_n) ** 2
    assert sd[0] / si[0] == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize("target", ["CsI", "Cs", "Ar"])
def test_targets_without_shipped_structure_functions_are_refused(target):
    # Cs133 has no shipped structure function; Ar has no odd isotope at all
    with pytest.raises(UnknownNameError, match="Xe129"):
        dr_de_sd(np.array([5.0]) * u.keV, 50 * u.GeV, SIGMA, target)


def test_bad_input():
    with pytest.raises(UnknownNameError, match="proton"):
        dr_de_sd(np.array([5.0]) * u.keV, 50 * u.GeV, SIGMA, coupling="electron")
    with pytest.raises(UnknownNameError, match="band"):
        dr_de_sd(np.array([5.0]) * u.keV, 50 * u.GeV, SIGMA, band="middle")
    with pytest.raises(OutOfRangeError, match="600"):
        dr_de_sd(np.array([700.0]) * u.keV, 50 * u.GeV, SIGMA)
    with pytest.raises(NonPhysicalValueError):
        dr_de_sd(np.array([-1.0]) * u.keV, 50 * u.GeV, SIGMA)
    with pytest.raises(UnknownNameError, match="Ge73"):
        structure_function("Cs133", "n", np.array([1.0]))


def test_band_brackets_central_and_mass_array():
    e = np.array([1.0, 10.0, 30.0]) * u.keV
    lo, mid, hi = (
        dr_de_sd(e, 50 * u.GeV, SIGMA, coupling="neutron", band=b).value
        for b in ("down", "central", "up")
    )
    assert np.all(lo < mid)
    assert np.all(mid < hi)
    many = dr_de_sd(e, [20.0, 50.0] * u.GeV, SIGMA, coupling="neutron")
    assert many.shape == (2, 3)
    np.testing.assert_allclose(many[1].value, mid, rtol=1e-12)
