"""A tiny untrained deep SCM on (3, 64, 64) images: the shape the galaxy embedder takes.

``retrieve_k`` embeds a counterfactual's observations with the served galaxy embedder
(:mod:`acie.serve.embedding_index`), which takes 3-band 64 x 64 stamps; the 16 x 16
model of ``conftest`` cannot ask for neighbours. This one is built the same way
(config, scalers, checkpoint; seeded, untrained, width 4), so a counterfactual still
takes milliseconds. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import numpy as np
import pytest

IMAGE_SHAPE64 = (3, 64, 64)


def write_tiny_checkpoint(path, *, image_shape, seed: int, n: int, purpose: str):
    """Write a seeded, untrained deep SCM checkpoint (width 4) on ``image_shape`` images.

    The scalers are fitted to a stand-in training set: properties uniform over the
    calibrated ranges, pixels gamma-distributed. Returns ``path``.
    """
    import torch

    from acie.deepscm.checkpoint import save_checkpoint
    from acie.deepscm.model import DeepSCM, DeepSCMConfig
    from acie.deepscm.scaling import ImageScaler, PropertyScaler
    from acie.galaxy.properties import PARENTS, PROPERTY_NAMES, RANGES

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    values = {k: rng.uniform(RANGES[k].low + 1e-3, RANGES[k].high, n) for k in PROPERTY_NAMES}
    config = DeepSCMConfig(
        parents={k: list(v) for k, v in PARENTS.items()},
        image_shape=tuple(image_shape),
        latent_dim=4,
        width=4,
        mechanism_hidden=8,
    )
    model = DeepSCM(config).eval()
    props = PropertyScaler.fit(values, names=list(PROPERTY_NAMES), positive=[])
    images = ImageScaler.fit(rng.gamma(2.0, 10.0, size=(n, *image_shape)))
    save_checkpoint(
        path, model=model, properties=props, images=images, metadata={"purpose": purpose}
    )
    return path


@pytest.fixture(scope="session")
def engine64(tmp_path_factory):
    """A :class:`~acie.deepscm.engine.CounterfactualEngine` on (3, 64, 64) images."""
    from acie.deepscm.engine import CounterfactualEngine

    path = write_tiny_checkpoint(
        tmp_path_factory.mktemp("model64") / "tiny64.pt",
        image_shape=IMAGE_SHAPE64,
        seed=1,
        n=128,
        purpose="acie serving tests on embedder-shaped images (untrained)",
    )
    return CounterfactualEngine.from_checkpoint(path)


@pytest.fixture
def server64(server_factory, engine64):
    """A server (REST + gRPC + worker, as ``acie serve`` builds it) of :func:`engine64`."""
    return server_factory(model=engine64, MAX_REQUEST_BYTES=64 * 1024 * 1024)
