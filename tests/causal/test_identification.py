"""Backdoor adjustment sets by d-separation on textbook graphs."""

import pytest

from acie.causal import CausalDAG, backdoor_adjustment_set, galaxy_scm, is_backdoor_set
from acie.errors import IdentificationError, InputValidationError, UnknownNodeError


def test_confounder_must_be_adjusted():
    g = CausalDAG(edges=[("z", "t"), ("z", "y"), ("t", "y")])
    assert backdoor_adjustment_set(g, "t", "y") == {"z"}
    assert is_backdoor_set(g, "t", "y", {"z"})
    assert not is_backdoor_set(g, "t", "y", set())


def test_m_bias_needs_no_adjustment_and_the_collider_must_not_be_adjusted():
    # Pearl's M-graph: t <- a -> m <- b -> y, t -> y; m is a collider
    g = CausalDAG(edges=[("a", "t"), ("a", "m"), ("b", "m"), ("b", "y"), ("t", "y")])
    assert backdoor_adjustment_set(g, "t", "y") == frozenset()
    assert not is_backdoor_set(g, "t", "y", {"m"})
    assert is_backdoor_set(g, "t", "y", {"m", "a"})


def test_mediator_is_never_in_the_set():
    g = CausalDAG(edges=[("z", "t"), ("z", "y"), ("t", "m"), ("m", "y")])
    assert not is_backdoor_set(g, "t", "y", {"z", "m"})
    assert backdoor_adjustment_set(g, "t", "y", minimal=False) == {"z"}


def test_unobserved_confounder_is_not_identifiable():
    g = CausalDAG(edges=[("u", "t"), ("u", "y"), ("t", "y")])
    with pytest.raises(IdentificationError, match="not identifiable"):
        backdoor_adjustment_set(g, "t", "y", observed={"t", "y"})


def test_observed_proxy_route():
    # u unobserved but its effect on t passes through the observed w
    g = CausalDAG(edges=[("u", "w"), ("w", "t"), ("u", "y"), ("t", "y")])
    assert backdoor_adjustment_set(g, "t", "y", observed={"w", "t", "y"}) == {"w"}


def test_galaxy_sets():
    g = galaxy_scm().graph
    assert backdoor_adjustment_set(g, "merger", "log_sfr") in (
        {"log_halo_mass"},
        {"log_stellar_mass"},
    )
    assert backdoor_adjustment_set(g, "log_stellar_mass", "colour_gr") == {"log_halo_mass"}


def test_errors():
    g = CausalDAG(edges=[("t", "y")])
    with pytest.raises(UnknownNodeError):
        backdoor_adjustment_set(g, "t", "q")
    with pytest.raises(InputValidationError):
        backdoor_adjustment_set(g, "t", "t")
    with pytest.raises(InputValidationError):
        is_backdoor_set(g, "t", "y", {"t"})
