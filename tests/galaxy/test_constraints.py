import numpy as np
import pytest

from acie.errors import InputValidationError, PhysicsViolationError, ShapeError, UnknownNameError
from acie.galaxy.constraints import (
    GALAXY_CONSTRAINTS,
    check,
    enforce,
    fixed_for_counterfactual,
    penalty,
    project,
    violation_score,
    violation_scores,
)
from acie.galaxy.properties import NUISANCE_NAMES, PROPERTY_NAMES
from acie.physics.conservation import flux_from_luminosity, luminosity_from_flux
from acie.physics.constants import BARYON_FRACTION
from acie.physics.virial import virial_velocity_dispersion

torch = pytest.importorskip("torch")


def physical(n=3):
    lh = np.linspace(11.5, 12.5, n)
    ls = lh - 1.6
    lg = ls - 0.5
    size = np.full(n, np.log10(4.0))
    ns = np.full(n, 2.0)
    return {
        "log_halo_mass": lh,
        "log_stellar_mass": ls,
        "log_gas_mass": lg,
        "log_size": size,
        "sersic_n": ns,
        "velocity_dispersion": virial_velocity_dispersion(lh, ls, lg, size, ns),
        "log_luminosity": ls - 0.3,
        "age": np.full(n, 8.0),
    }


def test_physical_galaxies_score_zero():
    assert np.all(violation_score(physical()) == 0)
    assert np.all(check(physical(), tolerance=0.01) == 0)


def test_baryon_score_is_the_log_excess():
    p = physical(1)
    # all baryons in stars at twice the cosmic baryon fraction; negligible gas
    p["log_stellar_mass"] = p["log_halo_mass"] + np.log10(2 * BARYON_FRACTION)
    p["log_gas_mass"] = p["log_stellar_mass"] - 8
    s = violation_scores(p)["baryon_fraction"]
    assert s[0] == pytest.approx(np.log10(2.0), abs=1e-7)


def test_each_constraint_detects_its_violation():
    p = physical(1)
    p["velocity_dispersion"] = p["velocity_dispersion"] * 10**0.25  # +0.5 dex in sigma^2
    assert violation_scores(p)["virial"][0] == pytest.approx(0.5 - 0.3, abs=1e-9)
    p = physical(1)
    p["log_luminosity"] = p["log_stellar_mass"] + 1.5  # M/L = 10^-1.5
    assert violation_scores(p)["mass_to_light"][0] == pytest.approx(0.5, abs=1e-12)
    p = physical(1)
    p["age"] = np.array([2 * 13.787])
    assert violation_scores(p)["stellar_age"][0] == pytest.approx(1.0, abs=1e-12)


def test_flux_distance_consistency_and_photometry_closed_form():
    # a source with the Sun's luminosity at 10 pc has m = M_sun (definition of M)
    f = flux_from_luminosity(0.0, 1e-5, 4.65)
    assert f == pytest.approx(10 ** (-0.4 * (4.65 - 22.5)), rel=1e-12)
    # inverse-square law: 10x the distance is 100x fainter
    assert flux_from_luminosity(10.0, 100.0, 4.65) / flux_from_luminosity(
        10.0, 1000.0, 4.65
    ) == pytest.approx(100.0)
    assert luminosity_from_flux(f, 1e-5, 4.65) == pytest.approx(0.0, abs=1e-12)
    p = {
        "log_luminosity": np.array([10.0, 10.0]),
        "luminosity_distance": np.array([500.0, 500.0]),
        "flux_r": flux_from_luminosity(np.array([10.0, 10.2]), 500.0, 4.65),
    }
    np.testing.assert_allclose(violation_scores(p)["flux_distance"], [0.0, 0.2], atol=2e-9)


def test_numpy_and_torch_agree_and_penalty_is_differentiable():
    p = physical()
    p["log_stellar_mass"] = p["log_stellar_mass"] + np.array([0.0, 1.0, 2.0])
    s_np = violation_score(p)
    pt = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}
    s_t = violation_score(pt)
    np.testing.assert_allclose(s_t.detach().numpy(), s_np, rtol=1e-12)
    pen = penalty(pt)
    assert pen.ndim == 0
    pen.backward()
    assert pt["log_stellar_mass"].grad[2] > 0

    def f(ls):
        return penalty({**{k: v.detach() for k, v in pt.items()}, "log_stellar_mass": ls})

    ls = torch.tensor(p["log_stellar_mass"], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (ls,))


def test_projection_repairs_violations_and_leaves_physical_galaxies_alone():
    p = physical(4)
    p["log_stellar_mass"] = p["log_stellar_mass"] + np.array([0.0, 1.5, 0.0, 2.0])
    p["velocity_dispersion"] = p["velocity_dispersion"] * np.array([1.0, 1.0, 3.0, 1.0])
    res = project(p, steps=50, tolerance=0.01, fixed=["log_stellar_mass"])
    assert res.converged
    assert res.steps <= 50
    assert np.all(res.score <= 0.01)
    assert res.initial_score[0] == 0
    np.testing.assert_array_equal(res.properties["log_stellar_mass"], p["log_stellar_mass"])
    for k in p:  # the physical galaxy 0 is untouched
        assert res.properties[k][0] == p[k][0]
    assert "log_stellar_mass" not in res.moved


def test_projection_works_on_torch_and_keeps_type():
    p = physical(2)
    p["log_gas_mass"] = p["log_halo_mass"] + 0.5
    pt = {k: torch.tensor(v, dtype=torch.float64) for k, v in p.items()}
    with torch.no_grad():  # as inside an inference engine
        res = project(pt, steps=20, tolerance=0.01)
    assert isinstance(res.properties["log_gas_mass"], torch.Tensor)
    assert res.converged


def test_zero_steps_do_nothing_and_enforce_refuses():
    p = physical(1)
    p["log_stellar_mass"] = p["log_halo_mass"] + 0.3
    res = project(p, steps=0, tolerance=0.01)
    assert not res.converged
    assert res.steps == 0
    # with halo, stellar and gas mass fixed the baryon excess cannot be repaired
    with pytest.raises(PhysicsViolationError) as info:
        enforce(
            p, steps=10, tolerance=0.01, fixed=["log_halo_mass", "log_stellar_mass", "log_gas_mass"]
        )
    assert info.value.tolerance == 0.01
    assert info.value.score > 0.01
    assert isinstance(info.value, RuntimeError)


def test_check_raises_with_score_and_names_the_constraint():
    p = physical(2)
    p["age"] = np.array([8.0, 30.0])
    with pytest.raises(PhysicsViolationError, match=r"galaxy 1.*stellar_age") as info:
        check(p, tolerance=0.05)
    assert info.value.score == pytest.approx((30.0 - 13.787) / 13.787, rel=1e-9)


def test_tolerance_is_an_argument():
    p = physical(1)
    p["age"] = np.array([20.0])  # score 0.45
    assert check(p, tolerance=0.5)[0] == pytest.approx((20 - 13.787) / 13.787)
    with pytest.raises(PhysicsViolationError):
        check(p)  # default tolerance 0.05
    assert project(p, steps=0).steps == 0


def test_the_table_names_the_galaxy_properties_and_ignores_nuisances():
    assert GALAXY_CONSTRAINTS.properties == PROPERTY_NAMES
    assert set(GALAXY_CONSTRAINTS.ignored) == set(NUISANCE_NAMES)
    p = physical(2)
    with_nuisances = {**p, **{k: np.ones(2) for k in NUISANCE_NAMES}}
    np.testing.assert_array_equal(violation_score(with_nuisances), violation_score(p))


def test_bad_input_is_typed():
    with pytest.raises(UnknownNameError, match="stellar_mas"):
        violation_scores({"stellar_mas": [1.0]})
    with pytest.raises(ShapeError):
        violation_scores({"log_stellar_mass": np.zeros(3), "log_luminosity": np.zeros(2)})
    with pytest.raises(ShapeError):
        violation_scores({"age": np.zeros((2, 2))})
    with pytest.raises(InputValidationError, match="no physics constraint"):
        violation_scores({"metallicity": [8.7]})
    with pytest.raises(UnknownNameError):
        project(physical(1), fixed=["mass"])


def test_fixed_for_counterfactual_pins_non_descendants():
    fixed = fixed_for_counterfactual(["log_stellar_mass"])
    assert "log_halo_mass" in fixed
    assert "log_stellar_mass" in fixed
    assert "velocity_dispersion" not in fixed
    assert "log_gas_mass" not in fixed
    # a leaf intervention leaves nothing to move
    assert set(fixed_for_counterfactual(["velocity_dispersion"])) == set(physical(1)) | {
        "metallicity",
        "log_sfr",
    }
    # so an off-virial do(sigma) is refused under the causal rule
    p = physical(1)
    p["log_sfr"], p["metallicity"] = np.array([0.0]), np.array([8.7])
    p["velocity_dispersion"] = p["velocity_dispersion"] * 10**0.3
    with pytest.raises(PhysicsViolationError):
        enforce(
            p, fixed=fixed_for_counterfactual(["velocity_dispersion"]), steps=10, tolerance=0.01
        )
    with pytest.raises(UnknownNameError):
        fixed_for_counterfactual(["mass"])
