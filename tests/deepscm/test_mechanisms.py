import math

import numpy as np
import pytest
import torch

from acie.deepscm.mechanisms import (
    ConditionalGaussianMechanism,
    ConditionalSinhArcsinhFlow,
    PropertyMechanisms,
    topological_order,
)
from acie.errors import CycleError, GraphError, UnknownNodeError

CHAIN = {"c": ["a", "b"], "a": [], "b": ["a"]}


def _randomised(m: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.4)
    return m


def test_topological_order_puts_parents_first():
    assert topological_order(CHAIN) == ["a", "b", "c"]


def test_cycle_and_unknown_parent_are_typed_errors():
    with pytest.raises(CycleError, match=r"a -> b -> a|b -> a -> b"):
        topological_order({"a": ["b"], "b": ["a"]})
    with pytest.raises(GraphError, match="'z'"):
        topological_order({"a": ["z"]})


@pytest.mark.parametrize("kind", ["gaussian", "sinh-arcsinh"])
def test_abduction_then_prediction_reproduces_the_data(kind):
    m = _randomised(PropertyMechanisms(parents=CHAIN, kind=kind))
    s = m.sample(256, generator=torch.Generator().manual_seed(1)).detach()
    u = m.abduct(s)
    # float32 round trip through sinh/asinh: 1e-4 relative is ~1000 ulp of margin
    torch.testing.assert_close(m.predict(u), s, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cls", [ConditionalGaussianMechanism, ConditionalSinhArcsinhFlow])
def test_log_prob_is_change_of_variables(cls):
    # log p(s) = log N(u) + log |du/ds|, with du/ds from autograd (independent of the
    # closed form used in log_prob)
    mech = _randomised(cls(n_parents=2, hidden=8), seed=3).double()
    pa = torch.randn(64, 2, dtype=torch.float64)
    s = torch.randn(64, dtype=torch.float64, requires_grad=True)
    u = mech.inverse(s, pa)
    (du_ds,) = torch.autograd.grad(u.sum(), s)
    expected = -0.5 * u**2 - 0.5 * math.log(2 * math.pi) + torch.log(du_ds.abs())
    torch.testing.assert_close(mech.log_prob(s, pa), expected.detach(), rtol=1e-10, atol=1e-10)


def test_log_prob_integrates_to_one():
    # trapezoid over a wide grid; the density of a 1-D flow must integrate to 1 (1e-4)
    mech = _randomised(ConditionalSinhArcsinhFlow(n_parents=1, hidden=8), seed=5).double()
    grid = torch.linspace(-60, 60, 200_001, dtype=torch.float64)
    pa = torch.full((grid.numel(), 1), 0.7, dtype=torch.float64)
    p = mech.log_prob(grid, pa).exp().detach().numpy()
    assert np.trapezoid(p, grid.numpy()) == pytest.approx(1.0, abs=1e-4)


def test_do_sets_node_changes_only_descendants():
    m = _randomised(PropertyMechanisms(parents=CHAIN))
    s = m.sample(32, generator=torch.Generator().manual_seed(2)).detach()
    u = m.abduct(s)
    cf = m.predict(u, {"b": torch.tensor(1.5)}).detach()
    assert torch.all(cf[:, m.index["b"]] == 1.5)
    torch.testing.assert_close(cf[:, m.index["a"]], s[:, m.index["a"]])  # non-descendant
    assert not torch.allclose(cf[:, m.index["c"]], s[:, m.index["c"]])  # descendant moves
    assert m.descendants("a") == {"b", "c"}


def test_do_on_unknown_node_is_typed():
    m = PropertyMechanisms(parents=CHAIN)
    with pytest.raises(UnknownNodeError, match=r"'x'.*a, b, c|'x'"):
        m.predict(torch.zeros(1, 3), {"x": torch.tensor(0.0)})


def test_unknown_kind_is_rejected():
    with pytest.raises(GraphError, match="mechanism kind"):
        PropertyMechanisms(parents=CHAIN, kind="spline")


def test_gaussian_mechanism_learns_a_linear_scm():
    # s_b = 2 s_a + 0.5 u: maximum likelihood must recover slope 2 and sigma 0.5.
    # With n = 4000 the standard errors are ~0.008 (slope) and ~0.006 (sigma); 0.05 is >5 sigma
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, generator=g)
    b = 2 * a + 0.5 * torch.randn(4000, generator=g)
    torch.manual_seed(0)
    m = PropertyMechanisms(parents={"a": [], "b": ["a"]}, hidden=16)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    s = torch.stack([a, b], 1)
    for _ in range(400):
        opt.zero_grad()
        (-m.log_prob(s).mean()).backward()
        opt.step()
    with torch.no_grad():
        cf = m.predict(torch.zeros(2, 2), {"a": torch.tensor([0.0, 1.0])})
        slope = float(cf[1, 1] - cf[0, 1])
        sigma = float(m.mechanism("b")._affine(torch.zeros(1, 1))[1].exp())
    assert slope == pytest.approx(2.0, abs=0.05)
    assert sigma == pytest.approx(0.5, abs=0.05)
