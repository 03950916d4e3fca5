"""Fine-tuning the property encoder on the model's own counterfactuals (tiny sizes, seconds)."""

import numpy as np
import pytest
import torch

from acie.deepscm.checkpoint import load_checkpoint
from acie.deepscm.counterfactual_training import CounterfactualTrainConfig
from acie.deepscm.encoder_cycle import cycle_term, finetune_encoder_cycle
from acie.deepscm.predictors import default_predictor_path
from acie.errors import InputValidationError, ShapeError

DATA = default_predictor_path().parent


@pytest.fixture(scope="module")
def shipped():
    """The shipped model and 16 simulated galaxies (stretched images, standardised s)."""
    from acie.galaxy.simulator import GalaxySimulator

    ck = load_checkpoint(DATA / "default.pt")
    batch = GalaxySimulator(seed=777).sample(16, seed=777)
    x = ck.images.forward(torch.from_numpy(np.asarray(batch.images, dtype=np.float32)))
    values = {**batch.properties, **batch.nuisances}
    s = torch.from_numpy(ck.properties.encode({k: values[k] for k in ck.properties.names}))
    return ck, x, s


def _mass(model):
    return [model.property_names.index("log_stellar_mass")]


def test_gradients_reach_the_encoder_only(shipped):
    ck, x, s = shipped
    model = load_checkpoint(ck.path).model
    gen = torch.Generator().manual_seed(0)
    term = cycle_term(model, x, s, _mass(model), CounterfactualTrainConfig(), gen)
    assert term.shape == (16,)
    assert bool(torch.isfinite(term).all())
    assert float(term.detach().mean()) > 1e-3
    term.mean().backward()
    for part in (model.encoder.property_head, model.encoder.features, model.encoder.conv):
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 1e-6
    assert all(p.grad is None for p in model.decoder.parameters())  # x' is detached
    assert all(p.grad is None for p in model.mechanisms.parameters())  # s' is a target
    assert all(p.grad is None for p in model.encoder.latent_head.parameters())


def test_a_few_steps_reduce_the_cycle_term(shipped):
    ck, x, s = shipped
    model = load_checkpoint(ck.path).model
    opt = torch.optim.Adam(model.encoder.parameters(), lr=1e-5)
    cfg = CounterfactualTrainConfig()

    def term() -> torch.Tensor:
        gen = torch.Generator().manual_seed(5)  # the same interventions at every step
        return cycle_term(model, x, s, _mass(model), cfg, gen).mean()

    start = float(term().detach())
    for _ in range(10):
        opt.zero_grad()
        term().backward()
        opt.step()
    assert float(term().detach()) < 0.85 * start


def _run(tiny_model, tiny_data, out, seed, weight=100.0):
    images, values, _ = tiny_data
    return finetune_encoder_cycle(
        checkpoint=load_checkpoint(tiny_model.checkpoint),
        images=images,
        properties=values,
        out_dir=out,
        config=CounterfactualTrainConfig(
            weight=weight, epochs=1, batch_size=16, max_batches=3, seed=seed
        ),
    )


def test_seeded_runs_are_identical(tiny_model, tiny_data, tmp_path):
    a = _run(tiny_model, tiny_data, tmp_path / "a", seed=0)
    b = _run(tiny_model, tiny_data, tmp_path / "b", seed=0)
    c = _run(tiny_model, tiny_data, tmp_path / "c", seed=1)
    wa, wb, wc = (load_checkpoint(r.checkpoint).model.state_dict() for r in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert [r["val_cycle"] for r in a.history] == [r["val_cycle"] for r in b.history]
    assert len(a.history) == 2  # before and after the epoch
    meta = load_checkpoint(a.checkpoint).metadata["encoder_cycle_training"]
    assert meta["init_from"] == load_checkpoint(tiny_model.checkpoint).version
    assert meta["config"]["weight"] == 100.0


def test_the_weight_changes_the_encoder(tiny_model, tiny_data, tmp_path):
    a = _run(tiny_model, tiny_data, tmp_path / "a", seed=0, weight=0.0)
    b = _run(tiny_model, tiny_data, tmp_path / "b", seed=0, weight=100.0)
    wa, wb = (load_checkpoint(r.checkpoint).model.state_dict() for r in (a, b))
    assert not torch.equal(wa["encoder.property_head.weight"], wb["encoder.property_head.weight"])


def test_refuses_data_that_do_not_fit(tiny_model, tiny_data, tmp_path):
    images, values, _ = tiny_data
    ck = load_checkpoint(tiny_model.checkpoint)
    with pytest.raises(ShapeError, match="images"):
        finetune_encoder_cycle(
            checkpoint=ck, images=images[:, :, :8], properties=values, out_dir=tmp_path
        )
    partial = {k: v for k, v in values.items() if k != "log_stellar_mass"}
    with pytest.raises(InputValidationError, match="log_stellar_mass"):
        finetune_encoder_cycle(checkpoint=ck, images=images, properties=partial, out_dir=tmp_path)
