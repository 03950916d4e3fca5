"""The baseline of the embedding study: a plain autoencoder's bottleneck (PyTorch).

Same encoder (:class:`~acie.embedding.network.ImageEncoder`), same simulated views,
same augmentations, optimiser, schedule and number of steps as the contrastive
training, and about the same arithmetic: a step encodes and decodes ``batch`` images
(a contrastive step encodes ``2 * batch`` views; the decoder costs about what the
encoder does), and the loss is the mean squared error of the stretched image.
The bottleneck is the encoder's ``feature_dim`` output.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from acie.embedding.augment import dihedral_shift
from acie.embedding.network import EncoderConfig, ImageEncoder, asinh_stretch
from acie.embedding.training import Progress, TrainConfig, TrainResult, schedule, sky_softening
from acie.errors import ShapeError, expected_got

__all__ = ["ImageDecoder", "train_autoencoder"]


class ImageDecoder(nn.Module):
    """Bottleneck (n, feature_dim) -> stretched image (n, C, H, W).

    Nearest-neighbour upsampling and 3x3 convolutions, the encoder's widths halved, so
    that a decoder pass costs about what an encoder pass does (~25 MFLOP per 64x64 image).
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        w = config.width
        self.side = config.image_size // 16
        self.w = 2 * w
        self.inp = nn.Linear(config.feature_dim, 2 * w * self.side**2)

        def up(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.GroupNorm(8 if c_out % 8 == 0 else 1, c_out),
                nn.GELU(),
            ]

        self.net = nn.Sequential(
            *up(2 * w, 2 * w),
            *up(2 * w, w),
            *up(w, w // 2),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(w // 2, config.bands, 3, padding=1),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Reconstruction (n, C, H, W) of bottleneck vectors (n, feature_dim)."""
        return self.net(self.inp(h).view(-1, self.w, self.side, self.side))


def train_autoencoder(
    config: TrainConfig, views: np.ndarray, *, progress: Progress | None = None
) -> TrainResult:
    """Train encoder + decoder on ``views`` (n, V, C, H, W) with the contrastive budget."""
    if views.ndim != 5:
        raise ShapeError(expected_got("views", "an array (n, V, C, H, W)", views.shape))
    before = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        torch.manual_seed(config.seed)
        ecfg = EncoderConfig(
            bands=views.shape[2],
            image_size=views.shape[-1],
            width=config.width,
            feature_dim=config.feature_dim,
        )
        enc, dec = ImageEncoder(ecfg), ImageDecoder(ecfg)
        params = [*enc.parameters(), *dec.parameters()]
        opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        soft = torch.from_numpy(sky_softening(views[:, 0]))
        rng = np.random.default_rng([config.seed, 3])
        gen = torch.Generator().manual_seed(config.seed)
        n_img = config.batch  # encoder + decoder on `batch` images ~ two encoder passes
        losses: list[float] = []
        t0 = time.perf_counter()
        enc.train()
        for step in range(config.steps):
            schedule(opt, config.lr, step, config.steps)
            idx = rng.choice(len(views), size=n_img, replace=False)
            v = rng.integers(0, views.shape[1], n_img)
            x = torch.from_numpy(views[idx, v])
            x = asinh_stretch(dihedral_shift(x, gen, max_shift=config.max_shift), soft)
            loss = F.mse_loss(dec(enc(x)), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(step + 1, config.steps, losses[-1])
        enc.eval()
        return TrainResult(enc, soft.numpy(), losses, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
