import astropy.units as u
import networkx as nx
import numpy as np
import pytest

from acie.errors import NonPhysicalValueError, OutOfRangeError, ShapeError, UnknownNodeError
from acie.galaxy import properties as P


def test_property_names_are_a_topological_order_of_the_dag():
    g = P.property_graph()
    assert nx.is_directed_acyclic_graph(g)
    assert set(g.nodes) == set(P.PROPERTY_NAMES)
    pos = {n: i for i, n in enumerate(P.PROPERTY_NAMES)}
    for child, parents in P.PARENTS.items():
        assert set(g.predecessors(child)) == set(parents)
        assert all(pos[p] < pos[child] for p in parents)


def test_units_parse_and_every_node_has_unit_and_ranges():
    for name in P.PROPERTY_NAMES:
        u.Unit(P.UNITS[name]) if P.UNITS[name] else None
        dom, rng = P.PHYSICAL_DOMAIN[name], P.RANGES[name]
        # the validity range lies inside the physical domain
        assert dom.contains(np.array([rng.low, rng.high])).all()
    for name in P.NUISANCE_NAMES:
        assert name in P.NUISANCE_UNITS


def test_descendants_of_halo_are_everything_else_and_leaf_has_none():
    assert P.descendants("log_halo_mass") == P.PROPERTY_NAMES[1:]
    assert P.descendants("velocity_dispersion") == ()
    assert "log_halo_mass" not in P.descendants("log_stellar_mass")
    assert P.descendants("age") == ("log_luminosity",)


def test_validate_values_accepts_linear_quantities_for_log_nodes():
    v = P.validate_values("log_stellar_mass", 2e10 * u.M_sun, n=3)
    np.testing.assert_allclose(v, np.log10(2e10) * np.ones(3), rtol=0, atol=1e-12)
    v = P.validate_values("velocity_dispersion", 0.2 * u.km / u.ms)  # 200 km/s
    np.testing.assert_allclose(v, 200.0)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("log_stellar_mass", -1e10 * u.M_sun, NonPhysicalValueError),
        ("log_stellar_mass", float("nan"), NonPhysicalValueError),
        ("sersic_n", 0.0, NonPhysicalValueError),
        ("velocity_dispersion", -5.0, NonPhysicalValueError),
        ("age", 20.0, NonPhysicalValueError),
        ("log_stellar_mass", 14.0, OutOfRangeError),
        ("log_stellar_mass", 3 * u.km, NonPhysicalValueError),
        ("dark_energy", 1.0, UnknownNodeError),
    ],
)
def test_validate_values_rejects_bad_input_with_typed_errors(name, value, error):
    with pytest.raises(error) as info:
        P.validate_values(name, value)
    assert name.split("_")[-1] in str(info.value) or "unknown node" in str(info.value)


def test_validate_values_shape_error_names_the_expected_shape():
    with pytest.raises(ShapeError, match=r"shape \(4,\)"):
        P.validate_values("log_sfr", np.zeros(3), n=4)


def test_as_quantities_attaches_units():
    q = P.as_quantities({"log_stellar_mass": [10.0], "age": [5.0], "redshift": [0.1]})
    assert q["age"].unit == u.Gyr
    assert q["log_stellar_mass"].physical.to_value(u.M_sun)[0] == pytest.approx(1e10)
