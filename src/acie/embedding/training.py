"""Contrastive training of the galaxy embedder (SimCLR, Chen et al. 2020): NT-Xent, seeded.

Training data are galaxies of :class:`acie.galaxy.simulator.GalaxySimulator`, each
rendered ``n_views`` times with another position angle, PSF and pixel noise
(:func:`acie.embedding.augment.render_views`). A step takes ``batch`` galaxies, two of
their views, a random dihedral transform and sub-pixel shift of each
(:func:`~acie.embedding.augment.dihedral_shift`), encodes both, and minimises the
normalised-temperature cross entropy (NT-Xent) of the projection head's outputs: each
view must pick its partner out of the ``2 * batch - 1`` others. The encoder's features
(before the head) are then projected onto their first ``dim`` principal axes.

Everything random is seeded from ``TrainConfig.seed``: the galaxies (simulator seed),
the views, the initial weights, the batches and the augmentations. CPU kernels may still
differ in the last bits between runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from acie.embedding.augment import dihedral_shift, render_views
from acie.embedding.embedder import Embedder
from acie.embedding.network import EncoderConfig, ImageEncoder, ProjectionHead, asinh_stretch
from acie.errors import InputValidationError, ShapeError, expected_got
from acie.galaxy.batch import GalaxyBatch
from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "TrainConfig",
    "TrainResult",
    "embedder_from",
    "fit_projection",
    "nt_xent",
    "schedule",
    "simulate_views",
    "sky_softening",
    "train_contrastive",
]

Progress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_contrastive` (and of the autoencoder baseline).

    ``steps`` optimiser steps of ``batch`` galaxies (two views each); ``dim`` is the
    length of the shipped vectors (principal axes of the ``feature_dim`` features).
    """

    n_train: int = 4000
    n_views: int = 3
    steps: int = 600
    batch: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    max_shift: float = 1.5
    width: int = 32
    feature_dim: int = 128
    head_dim: int = 64
    dim: int = 32
    image_size: int = 64
    bands: tuple[str, ...] = ("g", "r", "i")
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("n_train", "steps", "batch", "width", "feature_dim", "head_dim", "dim"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise InputValidationError(expected_got(name, "a positive integer", v))
        if self.n_views < 2:
            raise InputValidationError(expected_got("n_views", "an integer >= 2", self.n_views))
        if self.batch < 2 or self.batch > self.n_train:
            raise InputValidationError(
                expected_got("batch", f"an integer in [2, n_train={self.n_train}]", self.batch)
            )
        if self.dim > self.feature_dim:
            raise InputValidationError(
                expected_got("dim", f"<= feature_dim ({self.feature_dim})", self.dim)
            )
        if self.image_size % 16:
            raise ShapeError(expected_got("image_size", "a multiple of 16 pixels", self.image_size))
        if not self.temperature > 0 or not self.lr > 0:
            raise InputValidationError("temperature and lr must be > 0")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        d = asdict(self)
        d["bands"] = list(self.bands)
        return d


@dataclass
class TrainResult:
    """A trained encoder with its pixel softening and the loss per step."""

    encoder: ImageEncoder
    softening: np.ndarray
    losses: list[float]
    seconds: float


def simulate_views(config: TrainConfig, *, chunk: int = 500) -> tuple[np.ndarray, GalaxyBatch]:
    """Training galaxies (simulator seed ``config.seed``) and their views (n, V, C, H, W)."""
    sim = GalaxySimulator(image_size=config.image_size, bands=config.bands, seed=config.seed)
    batch = sim.sample(config.n_train, seed=config.seed, render=False)
    rng = np.random.default_rng([config.seed, 1])
    views = [
        render_views(sim, batch[s : s + chunk], config.n_views, rng)
        for s in range(0, config.n_train, chunk)
    ]
    return np.concatenate(views).astype(np.float32), batch


def sky_softening(images: np.ndarray, border: int = 4) -> np.ndarray:
    """Per-band sky sigma (C,) of images (n, C, H, W): 1.4826 x MAD of the border pixels."""
    x = np.asarray(images)
    if x.ndim != 4:
        raise ShapeError(expected_got("images", "an array (n, C, H, W)", x.shape))
    mask = np.ones(x.shape[-2:], bool)
    mask[border:-border, border:-border] = False
    pix = x[:, :, mask].transpose(1, 0, 2).reshape(x.shape[1], -1)
    med = np.median(pix, axis=1, keepdims=True)
    sigma = 1.4826 * np.median(np.abs(pix - med), axis=1)
    return np.maximum(sigma, 1e-6).astype(np.float32)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent loss of paired views (n, d) each: mean cross entropy over the 2n anchors."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


def schedule(opt: torch.optim.Optimizer, lr: float, step: int, steps: int) -> None:
    """Set the learning rate of ``step``: linear warm-up over 5 % of the steps, then cosine."""
    warm = max(1, steps // 20)
    f = (
        (step + 1) / warm
        if step < warm
        else 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))
    )
    for g in opt.param_groups:
        g["lr"] = lr * f


def _pair(
    views: np.ndarray, rng: np.random.Generator, batch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    idx = rng.choice(len(views), size=batch, replace=False)
    a = rng.integers(0, views.shape[1], batch)
    b = (a + rng.integers(1, views.shape[1], batch)) % views.shape[1]
    return torch.from_numpy(views[idx, a]), torch.from_numpy(views[idx, b])


def train_contrastive(
    config: TrainConfig, views: np.ndarray, *, progress: Progress | None = None
) -> TrainResult:
    """Train the encoder with NT-Xent on ``views`` (n, V, C, H, W) [nanomaggies / pixel]."""
    if views.ndim != 5 or views.shape[1] < 2:
        raise ShapeError(expected_got("views", "an array (n, V >= 2, C, H, W)", views.shape))
    before = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        torch.manual_seed(config.seed)
        enc = ImageEncoder(
            EncoderConfig(
                bands=views.shape[2],
                image_size=views.shape[-1],
                width=config.width,
                feature_dim=config.feature_dim,
            )
        )
        head = ProjectionHead(config.feature_dim, config.head_dim)
        params = [*enc.parameters(), *head.parameters()]
        opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        soft = torch.from_numpy(sky_softening(views[:, 0]))
        rng = np.random.default_rng([config.seed, 2])
        gen = torch.Generator().manual_seed(config.seed)
        losses: list[float] = []
        t0 = time.perf_counter()
        enc.train()
        for step in range(config.steps):
            schedule(opt, config.lr, step, config.steps)
            x1, x2 = _pair(views, rng, config.batch)
            x1 = asinh_stretch(dihedral_shift(x1, gen, max_shift=config.max_shift), soft)
            x2 = asinh_stretch(dihedral_shift(x2, gen, max_shift=config.max_shift), soft)
            loss = nt_xent(head(enc(x1)), head(enc(x2)), config.temperature)
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


def fit_projection(features: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, components (dim, d)): the first ``dim`` principal axes of ``features`` (n, d).

    Each axis's sign is fixed so its largest entry is positive (deterministic output).
    """
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or not 1 <= dim <= min(f.shape):
        raise InputValidationError(
            expected_got(
                "features, dim", "(n, d) features and 1 <= dim <= min(n, d)", (f.shape, dim)
            )
        )
    mean = f.mean(axis=0)
    _, _, vt = np.linalg.svd(f - mean, full_matrices=False)
    vt = vt[:dim]
    signs = np.sign(vt[np.arange(dim), np.abs(vt).argmax(axis=1)])
    return mean.astype(np.float32), (vt * signs[:, None]).astype(np.float32)


def embedder_from(result: TrainResult, views: np.ndarray, dim: int) -> Embedder:
    """The :class:`Embedder` of a trained encoder, projected onto ``dim`` principal axes.

    The axes (all of them are kept, for other choices of ``dim``) are those of the
    features of the first view of every training galaxy.
    """
    full = Embedder(
        result.encoder,
        result.softening,
        np.zeros(result.encoder.config.feature_dim, np.float32),
        np.eye(result.encoder.config.feature_dim, dtype=np.float32),
    )
    feats = full.features(views[:, 0])
    mean, comps = fit_projection(feats, min(feats.shape))
    return Embedder(result.encoder, result.softening, mean, comps, dim=dim)
