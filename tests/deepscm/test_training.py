import pytest
import torch

from acie.deepscm.checkpoint import load_checkpoint
from acie.deepscm.galaxy_data import POSITIVE, model_parents
from acie.deepscm.training import TrainConfig, train
from acie.errors import InputValidationError, ShapeError

CFG = dict(epochs=2, batch_size=32, width=4, latent_dim=2, mechanism_hidden=8, progress=False)


def _train(tiny_data, out, **kw):
    images, values, _ = tiny_data
    return train(
        images=images[:64],
        properties={k: v[:64] for k, v in values.items()},
        parents=model_parents(),
        positive=POSITIVE,
        out_dir=out,
        config=TrainConfig(**{**CFG, **kw}),
    )


def test_same_seed_same_weights_other_seed_differs(tiny_data, tmp_path):
    a = load_checkpoint(_train(tiny_data, tmp_path / "a", seed=1).checkpoint).model.state_dict()
    b = load_checkpoint(_train(tiny_data, tmp_path / "b", seed=1).checkpoint).model.state_dict()
    c = load_checkpoint(_train(tiny_data, tmp_path / "c", seed=2).checkpoint).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_training_lowers_the_loss_and_keeps_epoch_checkpoints(tiny_data, tmp_path):
    res = _train(
        tiny_data, tmp_path, epochs=4, keep_epoch_checkpoints=True, mechanism="sinh-arcsinh"
    )
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0]
    assert sorted(p.name for p in tmp_path.glob("epoch-*.pt")) == [
        f"epoch-{i:03d}.pt" for i in range(1, 5)
    ]
    assert load_checkpoint(res.checkpoint).model.config.mechanism == "sinh-arcsinh"


def test_bad_configuration_and_data_are_typed(tiny_data, tmp_path):
    with pytest.raises(InputValidationError, match="epochs must be a positive integer; got 0"):
        TrainConfig(epochs=0)
    images, values, _ = tiny_data
    with pytest.raises(ShapeError, match=r"images must be an array \(n, C, H, W\)"):
        train(
            images=images[0],
            properties=values,
            parents=model_parents(),
            positive=POSITIVE,
            out_dir=tmp_path,
        )
    with pytest.raises(InputValidationError, match="properties must be values for"):
        train(
            images=images,
            properties={"age": values["age"]},
            parents=model_parents(),
            positive=POSITIVE,
            out_dir=tmp_path,
        )
