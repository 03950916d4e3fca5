"""The abducted quench draw of a mixture node: a galaxy switches component under do() when
the mixture weight moves past its draw (the simulator's ``quenched iff u < f_q(M*)``).

The mechanism under test has closed-form weights, so the expected switches are exact:
quenched weight ``w_q(m) = sigmoid(2 m)``, quenched mean ``m - 3``, star-forming mean
``m``, both with sigma 0.2. A star-forming galaxy's draw is uniform on ``[w_q, 1)``, so
under ``do(m -> m')`` it switches with probability ``(w_q' - w_q) / (1 - w_q)``; the point
counterfactual (posterior median) switches iff that exceeds 1/2.
"""

import math

import torch

from acie.deepscm.mechanisms import ConditionalMixtureMechanism, PropertyMechanisms
from acie.deepscm.model import DeepSCM, DeepSCMConfig

PARENTS = {"m": [], "sfr": ["m"]}
SIGMA = 0.2


class _ExactMixture(ConditionalMixtureMechanism):
    """Component 1 quenched (lower mean), component 0 star-forming: index != mean order."""

    def __init__(self) -> None:
        super().__init__(n_parents=1, hidden=4, components=2)

    def _mix(self, pa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        m = pa[:, 0]
        logits = torch.stack([torch.zeros_like(m), 2.0 * m], dim=1)
        mu = torch.stack([m, m - 3.0], dim=1)
        return torch.log_softmax(logits, dim=1), mu, torch.full_like(mu, math.log(SIGMA))


def _mechanisms() -> PropertyMechanisms:
    mech = PropertyMechanisms(parents=PARENTS, mixtures={"sfr": 2}, hidden=4)
    mech.mechanisms["1"] = _ExactMixture()
    return mech


def _w_q(m: float) -> float:
    return 1.0 / (1.0 + math.exp(-2.0 * m))


QUENCHED, STAR_FORMING = 1, 0


@torch.no_grad()
def test_point_counterfactual_switches_iff_the_weight_crosses_the_median_draw():
    mech = _mechanisms()
    # a star-forming galaxy (+0.5 sigma) and a quenched one (+0.5 sigma), both at m = 0
    s = torch.tensor([[0.0, 0.1], [0.0, -2.9]])
    u, comp = mech.abduct_noise(s)
    assert comp[:, 1].tolist() == [STAR_FORMING, QUENCHED]
    draws = mech.abduct_draws(s, comp)
    # posterior medians: SF uniform on [0.5, 1), quenched on [0, 0.5)
    assert torch.allclose(draws[:, 1], torch.tensor([0.75, 0.25], dtype=torch.float64))
    assert torch.isnan(draws[:, 0]).all()
    # do(m = 1): w_q = 0.881 > 0.75, so the star-forming galaxy is quenched, keeping its
    # standardised residual (+0.5 sigma); the quenched one stays quenched
    cf = mech.predict(u, {"m": torch.tensor(1.0)}, components=comp, draws=draws)
    assert torch.allclose(cf[:, 1], torch.tensor([1.0 - 3.0 + 0.1, 1.0 - 3.0 + 0.1]), atol=1e-5)
    # do(m = 0.2): w_q = 0.599 < 0.75, no switch; the galaxy moves along its sequence
    cf = mech.predict(u, {"m": torch.tensor(0.2)}, components=comp, draws=draws)
    assert torch.allclose(cf[:, 1], torch.tensor([0.3, 0.2 - 3.0 + 0.1]), atol=1e-5)
    # do(m = -1): w_q = 0.119 < 0.25, the quenched galaxy becomes star-forming
    cf = mech.predict(u, {"m": torch.tensor(-1.0)}, components=comp, draws=draws)
    assert torch.allclose(cf[:, 1], torch.tensor([-0.9, -0.9]), atol=1e-5)
    # without draws the component is kept (the previous behaviour)
    kept = mech.predict(u, {"m": torch.tensor(1.0)}, components=comp)
    assert torch.allclose(kept[:, 1], torch.tensor([1.1, -1.9]), atol=1e-5)


@torch.no_grad()
def test_null_intervention_reproduces_the_input_with_median_and_drawn_draws():
    mech = _mechanisms()
    g = torch.Generator().manual_seed(3)
    m = 2.0 * torch.randn(3000, generator=g)
    q = torch.rand(3000, generator=g) < torch.sigmoid(2.0 * m)
    s = torch.stack([m, m + SIGMA * torch.randn(3000, generator=g) - 3.0 * q], dim=1)
    u, comp = mech.abduct_noise(s)
    for gen in (None, torch.Generator().manual_seed(4)):
        draws = mech.abduct_draws(s, comp, generator=gen)
        out = mech.predict(u, {}, components=comp, draws=draws)
        assert torch.allclose(out, s, atol=1e-5)
        # do(m = its own value) is the null intervention too: no galaxy switches
        same = mech.predict(u, {"m": s[:, 0]}, components=comp, draws=draws)
        assert torch.allclose(same, s, atol=1e-5)


@torch.no_grad()
def test_drawn_switch_probability_is_the_weight_change_over_the_remaining_weight():
    mech = _mechanisms()
    n = 20000
    s = torch.tensor([[0.0, 0.1]]).repeat(n, 1)  # star-forming, w_q = 0.5
    u, comp = mech.abduct_noise(s)
    draws = mech.abduct_draws(s, comp, generator=torch.Generator().manual_seed(0))
    assert float(draws[:, 1].min()) >= 0.5
    cf = mech.predict(u, {"m": torch.tensor(0.5)}, components=comp, draws=draws)
    switched = (cf[:, 1] < 0.5 - 1.5).double().mean().item()
    expected = (_w_q(0.5) - _w_q(0.0)) / (1.0 - _w_q(0.0))  # 0.462
    se = math.sqrt(expected * (1.0 - expected) / n)
    assert abs(switched - expected) < 4.0 * se, (switched, expected)


@torch.no_grad()
def test_abduct_particles_switch_with_the_probability_of_their_own_weights():
    torch.manual_seed(0)
    model = DeepSCM(
        DeepSCMConfig(
            parents=PARENTS, image_shape=(1, 16, 16), width=4, latent_dim=2, mixtures={"sfr": 2}
        )
    ).eval()
    model.mechanisms.mechanisms["1"] = _ExactMixture()
    x = torch.randn(100, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    parts = model.abduct_particles(x, 40, torch.Generator().manual_seed(2))
    switched, expected, count = 0.0, 0.0, 0
    for p in parts[1:]:
        assert p.draw is not None
        assert p.component is not None
        # every particle reproduces the input exactly under the null intervention
        assert torch.allclose(model.predict(p, model.act(p, {})), x, atol=1e-5)
        assert torch.allclose(model.act(p, {"m": p.s[:, 0]}), p.s, atol=1e-5)
        sf = p.component[:, 1] == STAR_FORMING
        shift = 0.5
        cf = model.act(p, {"m": p.s[:, 0] + shift})
        w = torch.sigmoid(2.0 * p.s[:, 0]).double()
        w_cf = torch.sigmoid(2.0 * (p.s[:, 0] + shift)).double()
        # a switch moves the SFR down by the 3-unit gap between the component means
        dropped = (cf[:, 1] - p.s[:, 1]) < shift - 1.5
        switched += float(dropped[sf].double().sum())
        expected += float(((w_cf - w) / (1.0 - w))[sf].sum())
        count += int(sf.sum())
    assert count > 500
    p_hat, p_exp = switched / count, expected / count
    se = math.sqrt(p_exp * (1.0 - p_exp) / count)
    assert abs(p_hat - p_exp) < 4.0 * se, (p_hat, p_exp, count)
    # particle 0 is the point abduction, which keeps each component (NaN draws): no
    # star-forming galaxy is quenched by do(m + 0.5)
    first = model.abduct(x)
    assert first.draw is not None
    assert torch.isnan(first.draw).all()
    assert parts[0].draw is not None
    assert torch.isnan(parts[0].draw).all()
    assert first.component is not None
    sf = first.component[:, 1] == STAR_FORMING
    cf = model.act(first, {"m": first.s[:, 0] + 0.5})
    assert bool(((cf[:, 1] - first.s[:, 1])[sf] > 0.4).all())
    # opting in to the posterior-median draw switches iff P(switch) > 1/2
    first.draw = model.mechanisms.abduct_draws(first.s, first.component)
    cf = model.act(first, {"m": first.s[:, 0] + 1.0})
    w, w_cf = torch.sigmoid(2.0 * first.s[:, 0]), torch.sigmoid(2.0 * (first.s[:, 0] + 1.0))
    dropped = (cf[:, 1] - first.s[:, 1]) < 1.0 - 1.5
    assert bool(dropped[sf].any())
    assert torch.equal(dropped[sf], ((w_cf - w) / (1.0 - w) > 0.5)[sf])
