"""Counterfactual training against an independent property predictor (tiny sizes, seconds)."""

import numpy as np
import pytest
import torch

from acie.deepscm.checkpoint import load_checkpoint
from acie.deepscm.counterfactual_training import (
    CounterfactualTrainConfig,
    check_predictor,
    counterfactual_images,
    counterfactual_term,
    finetune_counterfactual,
    load_training_predictor,
)
from acie.deepscm.model import DeepSCM, DeepSCMConfig
from acie.deepscm.predictors import (
    PredictorConfig,
    PropertyPredictor,
    default_predictor_path,
    save_predictor,
    train_predictor,
)
from acie.errors import ConfigurationError, InputValidationError, ShapeError

DATA = default_predictor_path().parent
READ = ("log_stellar_mass", "log_sfr", "log_size", "log_luminosity")


@pytest.fixture(scope="module")
def predictor(tiny_data):
    images, values, cfg = tiny_data
    pred, _ = train_predictor(
        images, values, softening=[cfg["sky_sigma"]["r"]], seed=1, epochs=2, width=4,
        features=8, names=READ,
    )  # fmt: skip
    return pred


def _batch(ck, tiny_data, n=32):
    images, values, _ = tiny_data
    x = ck.images.forward(torch.from_numpy(np.asarray(images[:n], dtype=np.float32)))
    s = torch.from_numpy(ck.properties.encode({k: v[:n] for k, v in values.items()}))
    return x, s


def _nodes(model):
    return [model.property_names.index("log_stellar_mass")]


def test_counterfactual_images_are_the_engines_prediction(tiny_model, tiny_data):
    ck = load_checkpoint(tiny_model.checkpoint)
    x, _ = _batch(ck, tiny_data)
    poisson = DeepSCM(
        DeepSCMConfig(
            parents=ck.model.config.parents, image_shape=(1, 16, 16), width=4, latent_dim=4,
            pixel_noise="poisson", image_stretch=ck.images.to_dict(),
        )
    ).eval()  # fmt: skip
    for model in (ck.model, poisson):
        ab = model.abduct(x)
        i = model.property_names.index("log_stellar_mass")
        s_cf = model.act(ab, {"log_stellar_mass": ab.s[:, i] + 0.7})
        with torch.no_grad():
            mine = counterfactual_images(model, x, ab.z, ab.s, s_cf)
        assert torch.allclose(mine, model.predict(ab, s_cf), atol=1e-5)
        assert float((mine - x).abs().max()) > 0  # the intervention changed the image


@pytest.fixture(scope="module")
def shipped():
    """The shipped model, the shipped training predictor and 16 held-out-style galaxies."""
    from acie.galaxy.simulator import GalaxySimulator

    ck = load_checkpoint(DATA / "default.pt")
    pred = load_training_predictor(DATA / "predictor_train.pt")
    batch = GalaxySimulator(seed=777).sample(16, seed=777)
    x = ck.images.forward(torch.from_numpy(np.asarray(batch.images, dtype=np.float32)))
    values = {**batch.properties, **batch.nuisances}
    s = torch.from_numpy(ck.properties.encode({k: values[k] for k in ck.properties.names}))
    return ck, pred, x, s


def test_term_is_differentiable_reaches_the_decoder_and_not_the_mechanisms(shipped):
    ck, pred, x, s = shipped
    model = load_checkpoint(ck.path).model
    gen = torch.Generator().manual_seed(0)
    sc = (ck.properties, ck.images)
    term = counterfactual_term(
        model, pred, sc, x, s, _nodes(model), CounterfactualTrainConfig(), gen
    )
    assert term.shape == (16,)
    assert bool(torch.isfinite(term).all())
    assert float(term.detach().mean()) > 0.01
    term.mean().backward()
    grads = [p.grad for p in model.decoder.deconv.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 1e-3
    assert all(p.grad is None for p in model.mechanisms.parameters())  # targets, not parameters
    assert all(p.grad is None for p in model.encoder.property_head.parameters())


def test_a_null_change_costs_nothing(tiny_model, tiny_data, predictor):
    """The term compares changes: a vanishing relative shift gives x' = x and target 0."""
    ck = load_checkpoint(tiny_model.checkpoint)
    x, s = _batch(ck, tiny_data)
    cfg = CounterfactualTrainConfig(max_shift=1e-9, relative_fraction=1.0)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        term = counterfactual_term(
            ck.model, predictor, (ck.properties, ck.images), x, s, _nodes(ck.model), cfg, gen
        )
    assert float(term.max()) < 1e-6


def test_refuses_a_predictor_that_does_not_fit_the_model(tiny_model, predictor, tmp_path):
    model = load_checkpoint(tiny_model.checkpoint).model
    assert check_predictor(model, predictor) == [model.property_names.index(k) for k in READ]
    cfg = predictor.config
    other = PredictorConfig(
        image_shape=(3, 16, 16), names=cfg.names, softening=(1.0,) * 3, mean=cfg.mean,
        std=cfg.std, width=4, features=8,
    )  # fmt: skip
    with pytest.raises(ShapeError, match="predictor image shape"):
        check_predictor(model, PropertyPredictor(other))
    unknown = PredictorConfig(
        image_shape=(1, 16, 16), names=("log_stellar_mass", "colour"), softening=(1.0,),
        mean=(0.0, 0.0), std=(1.0, 1.0), width=4, features=8,
    )  # fmt: skip
    with pytest.raises(InputValidationError, match="colour"):
        check_predictor(model, PropertyPredictor(unknown))


def test_refuses_the_evaluation_predictor(predictor, tmp_path):
    with pytest.raises(ConfigurationError, match="evaluation"):
        load_training_predictor(default_predictor_path())
    path = save_predictor(predictor, tmp_path / "p.pt")
    with pytest.raises(ConfigurationError, match="evaluation"):
        load_training_predictor(path, evaluation_predictor=path)
    loaded = load_training_predictor(path)  # any other predictor loads
    assert loaded.names == READ


def test_a_few_steps_reduce_the_counterfactual_term(shipped):
    ck, pred, x, s = shipped
    model = load_checkpoint(ck.path).model
    cfg = CounterfactualTrainConfig()
    opt = torch.optim.Adam(model.decoder.parameters(), lr=1e-4)

    def term() -> torch.Tensor:
        gen = torch.Generator().manual_seed(5)  # the same interventions at every step
        sc = (ck.properties, ck.images)
        return counterfactual_term(model, pred, sc, x, s, _nodes(model), cfg, gen).mean()

    start = float(term().detach())
    for _ in range(8):
        opt.zero_grad()
        term().backward()
        opt.step()
    assert float(term().detach()) < 0.8 * start


def _run(tiny_model, tiny_data, predictor, out, seed):
    images, values, _ = tiny_data
    return finetune_counterfactual(
        checkpoint=load_checkpoint(tiny_model.checkpoint),
        images=images,
        properties=values,
        predictor=predictor,
        out_dir=out,
        config=CounterfactualTrainConfig(
            epochs=1, batch_size=16, max_batches=3, seed=seed, nodes=("log_stellar_mass",)
        ),
    )


def test_seeded_runs_are_identical(tiny_model, tiny_data, predictor, tmp_path):
    a = _run(tiny_model, tiny_data, predictor, tmp_path / "a", seed=0)
    b = _run(tiny_model, tiny_data, predictor, tmp_path / "b", seed=0)
    c = _run(tiny_model, tiny_data, predictor, tmp_path / "c", seed=1)
    wa, wb, wc = (load_checkpoint(r.checkpoint).model.state_dict() for r in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert [r["val_counterfactual"] for r in a.history] == [
        r["val_counterfactual"] for r in b.history
    ]
    assert len(a.history) == 2  # before and after the epoch
    meta = load_checkpoint(a.checkpoint).metadata["counterfactual_training"]
    assert meta["init_from"] == load_checkpoint(tiny_model.checkpoint).version


def test_config_is_validated():
    with pytest.raises(InputValidationError, match="weight"):
        CounterfactualTrainConfig(weight=-1.0)
    with pytest.raises(InputValidationError, match="relative_fraction"):
        CounterfactualTrainConfig(relative_fraction=2.0)
