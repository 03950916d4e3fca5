"""A tiny deep SCM trained once per test session on a tiny simulated set (seconds)."""

import pytest

from acie.deepscm.galaxy_data import POSITIVE, model_parents, simulate_training_set
from acie.deepscm.training import TrainConfig, train

TINY = {"image_size": 16, "bands": ("r",)}


@pytest.fixture(scope="session")
def tiny_data():
    return simulate_training_set(96, seed=3, chunk=48, progress=False, **TINY)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_data):
    images, values, sim_cfg = tiny_data
    out = tmp_path_factory.mktemp("tiny_model")
    from acie.galaxy.constraints import penalty

    result = train(
        images=images,
        properties=values,
        parents=model_parents(),
        positive=POSITIVE,
        out_dir=out,
        physics_penalty=penalty,
        metadata={"simulator": sim_cfg},
        config=TrainConfig(
            epochs=3,
            batch_size=32,
            width=4,
            latent_dim=4,
            mechanism_hidden=8,
            seed=0,
            progress=False,
        ),
    )
    return result
