"""Conditional mixture mechanism (star-forming / quenched) and stochastic abduction."""

import math

import pytest
import torch

from acie.deepscm.mechanisms import ConditionalMixtureMechanism, PropertyMechanisms
from acie.deepscm.model import DeepSCM, DeepSCMConfig
from acie.errors import GraphError, InputValidationError, UnknownNodeError

PARENTS = {"m": [], "sfr": ["m"]}


def _bimodal(n: int, seed: int) -> torch.Tensor:
    """m ~ N(0, 1); sfr = m + 0.2 e, quenched (-3 offset) with probability sigmoid(2 m)."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(n, generator=g)
    q = torch.rand(n, generator=g) < torch.sigmoid(2.0 * m)
    sfr = m + 0.2 * torch.randn(n, generator=g) - 3.0 * q
    return torch.stack([m, sfr], dim=1)


def _fit(mech: PropertyMechanisms, s: torch.Tensor, steps: int = 400) -> None:
    torch.manual_seed(0)
    opt = torch.optim.Adam(mech.parameters(), lr=0.02)
    for _ in range(steps):
        opt.zero_grad()
        (-mech.log_prob(s).mean()).backward()
        opt.step()


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    train, test = _bimodal(2000, 0), _bimodal(2000, 1)
    mix = PropertyMechanisms(parents=PARENTS, mixtures={"sfr": 2}, hidden=16)
    gauss = PropertyMechanisms(parents=PARENTS, kind="sinh-arcsinh", hidden=16)
    _fit(mix, train)
    _fit(gauss, train)
    return mix, gauss, test


def test_mixture_beats_a_unimodal_flow_on_held_out_likelihood(fitted):
    mix, gauss, test = fitted
    with torch.no_grad():
        ll_mix = float(mix.log_prob(test).mean())
        ll_flow = float(gauss.log_prob(test).mean())
    # the exact model's mean log density is about -0.45 - 0.69 (entropy of the mix) + log N
    assert ll_mix > ll_flow + 0.3, (ll_mix, ll_flow)


def test_abduction_keeps_the_component_under_a_parent_change(fitted):
    mix, _gauss, test = fitted
    with torch.no_grad():
        u, comp = mix.abduct_noise(test)
        # round trip with the abducted components is exact
        assert torch.allclose(mix.predict(u, components=comp), test, atol=1e-4)
        mech = mix.mechanism("sfr")
        assert isinstance(mech, ConditionalMixtureMechanism)
        quenched_comp = int(mech._mix(torch.tensor([[2.0]]))[1].argmin())
        star_forming = comp[:, 1] != quenched_comp
        cf = mix.predict(u, {"m": test[:, 0] + 0.3}, components=comp)
        d_sfr = cf[:, 1] - test[:, 1]
        # no star-forming galaxy drops by more than the quenching depth / 10
        assert float((d_sfr[star_forming] < -0.3).float().mean()) == 0.0
        # and they move along their own sequence (slope 1): +0.3 within the noise
        assert abs(float(d_sfr[star_forming].median()) - 0.3) < 0.05


def test_stochastic_components_follow_the_responsibilities(fitted):
    mix, _gauss, _test = fitted
    with torch.no_grad():
        s = torch.tensor([[0.0, -1.5]]).repeat(4000, 1)  # in the valley: ambiguous
        mech = mix.mechanism("sfr")
        assert isinstance(mech, ConditionalMixtureMechanism)
        r = mech.responsibilities(s[:1, 1], s[:1, :1])[0]
        _, comp = mix.abduct_noise(s, generator=torch.Generator().manual_seed(0))
        freq = torch.bincount(comp[:, 1], minlength=2).double() / 4000
        se = math.sqrt(0.25 / 4000)
        assert torch.allclose(freq, r.double(), atol=5 * se)


def test_bad_mixture_arguments_are_typed_errors():
    with pytest.raises(UnknownNodeError):
        PropertyMechanisms(parents=PARENTS, mixtures={"nope": 2})
    with pytest.raises(GraphError, match=">= 2"):
        PropertyMechanisms(parents=PARENTS, mixtures={"sfr": 1})


def test_abduct_particles_are_seeded_and_each_reproduces_the_input():
    torch.manual_seed(0)
    model = DeepSCM(
        DeepSCMConfig(
            parents=PARENTS, image_shape=(2, 16, 16), width=4, latent_dim=3, mixtures={"sfr": 2}
        )
    ).eval()
    x = torch.randn(5, 2, 16, 16)
    a = model.abduct_particles(x, 4, torch.Generator().manual_seed(7))
    b = model.abduct_particles(x, 4, torch.Generator().manual_seed(7))
    assert len(a) == 4
    first = model.abduct(x)
    assert torch.equal(a[0].s, first.s)
    assert torch.equal(a[0].z, first.z)
    for pa, pb in zip(a, b, strict=True):
        assert torch.equal(pa.s, pb.s)
        assert torch.equal(pa.z, pb.z)
        assert torch.allclose(model.predict(pa, model.act(pa, {})), x, atol=1e-5)
    assert not torch.allclose(a[1].s, a[2].s)  # particles differ
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputValidationError, match="n_particles"):
            model.abduct_particles(x, bad)  # type: ignore[arg-type]
