"""Independent property predictors: a CNN regressor of galaxy properties from images.

Effectiveness of a counterfactual measured by the deep SCM's own encoder is circular
(the encoder was trained jointly with the decoder, so it reads back what the decoder
writes; Monteiro et al. 2023, ICLR; Ribeiro et al. 2023, ICML). The evaluation
(:mod:`acie.deepscm.evaluation`) therefore also measures the counterfactual images with
a *separate* regressor, trained here on simulated stamps only, with its own seed, data
and architecture, and never on a model's output.

The network: the image in ``asinh(x / sky_sigma)`` per band (the softened stretch of
Lupton et al. 1999), four 3 x 3 convolution blocks (SiLU, strides 1, 2, 2, 2), global
average pooling, a ``features``-wide penultimate layer and a linear head predicting the
standardised :data:`PREDICTED` properties (mean squared error). The penultimate features
are the feature space of the realism distance (:mod:`acie.deepscm.realism`).

Files are ``torch.save`` dictionaries of plain data (format :data:`FORMAT`), loaded with
``weights_only=True`` and written atomically. The shipped one is
``acie/deepscm/data/predictor.pt`` (provenance in ``data/PREDICTORS.md``).
"""

from __future__ import annotations

import io
import pickle
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from acie._files import write_versioned
from acie.errors import DataFormatError, InputValidationError, ShapeError, expected_got

__all__ = [
    "FORMAT",
    "PREDICTED",
    "PredictorConfig",
    "PropertyPredictor",
    "default_predictor_path",
    "load_default_predictor",
    "load_predictor",
    "save_predictor",
    "train_predictor",
]

FORMAT = "acie-property-predictor/1"

#: Properties the predictor regresses (units of :data:`acie.galaxy.properties.UNITS`).
PREDICTED: tuple[str, ...] = (
    "log_halo_mass",
    "log_stellar_mass",
    "log_sfr",
    "metallicity",
    "age",
    "log_size",
    "sersic_n",
    "log_luminosity",
)


@dataclass(frozen=True)
class PredictorConfig:
    """Architecture and input scaling of a :class:`PropertyPredictor`.

    ``softening`` is the per-band sky sigma [image units] of the asinh stretch;
    ``mean`` and ``std`` standardise each target (training-set moments).
    """

    image_shape: tuple[int, int, int]
    names: tuple[str, ...]
    softening: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    width: int = 16
    features: int = 64


class _Net(nn.Module):
    def __init__(self, c: int, width: int, features: int, k: int) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(c, w, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(4 * w, 4 * w, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * w, features),
            nn.SiLU(),
        )
        self.head = nn.Linear(features, k)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return f, self.head(f)


class PropertyPredictor:
    """A trained CNN regressor of :data:`PREDICTED` from images ``(n, C, H, W)``."""

    def __init__(self, config: PredictorConfig, net: nn.Module | None = None) -> None:
        self.config = config
        c = config.image_shape[0]
        self.net = net or _Net(c, config.width, config.features, len(config.names))
        self.net.eval()
        self._soft = torch.tensor(config.softening, dtype=torch.float32)[None, :, None, None]
        self._mean = np.asarray(config.mean, dtype=np.float64)
        self._std = np.asarray(config.std, dtype=np.float64)

    @property
    def names(self) -> tuple[str, ...]:
        """The predicted properties, in output order."""
        return self.config.names

    def _input(self, images: object) -> torch.Tensor:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 4 or tuple(x.shape[1:]) != tuple(self.config.image_shape):
            raise ShapeError(
                expected_got(
                    "images", f"(n, {', '.join(map(str, self.config.image_shape))})", x.shape
                )
            )
        if not np.all(np.isfinite(x)):
            raise InputValidationError(expected_got("image pixels", "finite numbers", "NaN/inf"))
        return torch.asinh(torch.from_numpy(x) / self._soft)

    @torch.no_grad()
    def _run(self, images: object, batch: int) -> tuple[np.ndarray, np.ndarray]:
        xt = self._input(images)
        fs, ps = [], []
        for i in range(0, xt.shape[0], batch):
            f, p = self.net(xt[i : i + batch])
            fs.append(f.double().numpy())
            ps.append(p.double().numpy())
        return np.concatenate(fs), np.concatenate(ps) * self._std + self._mean

    def predict(self, images: object, *, batch: int = 256) -> dict[str, np.ndarray]:
        """Predicted properties, name -> (n,) float64, in the node's unit."""
        _, p = self._run(images, batch)
        return {k: p[:, j] for j, k in enumerate(self.names)}

    def features(self, images: object, *, batch: int = 256) -> np.ndarray:
        """Penultimate-layer features (n, ``config.features``) float64."""
        return self._run(images, batch)[0]


def train_predictor(
    images: np.ndarray,
    values: Mapping[str, np.ndarray],
    *,
    softening: Sequence[float],
    seed: int = 0,
    epochs: int = 12,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    width: int = 16,
    features: int = 64,
    names: Sequence[str] = PREDICTED,
    log: bool = False,
) -> tuple[PropertyPredictor, list[dict[str, float]]]:
    """Train a :class:`PropertyPredictor` (AdamW, cosine schedule, MSE on standardised targets).

    Deterministic given ``seed`` up to the floating-point non-determinism of CPU kernels.
    Returns the predictor (eval mode) and the per-epoch history (train loss, seconds).
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[0] < 2:
        raise ShapeError(expected_got("images", "(n >= 2, C, H, W)", x.shape))
    names = tuple(names)
    missing = [k for k in names if k not in values]
    if missing:
        raise InputValidationError(expected_got("values", f"columns {list(names)}", missing))
    y = np.stack([np.asarray(values[k], dtype=np.float64) for k in names], axis=1)
    if y.shape[0] != x.shape[0]:
        raise ShapeError(expected_got("values", f"{x.shape[0]} rows", y.shape[0]))
    mean, std = y.mean(axis=0), np.maximum(y.std(axis=0), 1e-6)
    cfg = PredictorConfig(
        image_shape=tuple(int(s) for s in x.shape[1:]),  # type: ignore[arg-type]
        names=names,
        softening=tuple(float(s) for s in softening),
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        width=int(width),
        features=int(features),
    )
    torch.manual_seed(seed)
    pred = PropertyPredictor(cfg)
    net = pred.net
    xt = pred._input(x)
    yt = torch.from_numpy(((y - mean) / std).astype(np.float32))
    opt = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=1e-4)
    steps = epochs * ((len(xt) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=learning_rate, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    history = []
    net.train()
    for epoch in range(epochs):
        t0, total = time.perf_counter(), 0.0
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), batch_size):
            idx = perm[i : i + batch_size]
            xb = xt[idx]
            if torch.rand((), generator=gen) < 0.5:  # the simulator's position angle is uniform
                xb = xb.flip(-1)
            _, out = net(xb)
            loss = torch.mean((out - yt[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        history.append(
            {"epoch": epoch + 1, "train_mse": total / len(xt), "seconds": time.perf_counter() - t0}
        )
        if log:
            print(history[-1], flush=True)
    net.eval()
    return pred, history


def save_predictor(
    predictor: PropertyPredictor, path: str | Path, metadata: Mapping[str, object] | None = None
) -> Path:
    """Write ``predictor`` (plain data, half precision weights) atomically to ``path``."""
    state = {k: v.detach().to(torch.float16) for k, v in predictor.net.state_dict().items()}
    blob = {
        "format": FORMAT,
        "config": {**asdict(predictor.config)},
        "state_dict": state,
        "metadata": dict(metadata or {}),
    }
    buf = io.BytesIO()
    torch.save(blob, buf)
    write_versioned(path, buf.getvalue())
    return Path(path)


def load_predictor(path: str | Path) -> PropertyPredictor:
    """Load a predictor written by :func:`save_predictor` (``weights_only=True``)."""
    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise DataFormatError(
            expected_got(f"property predictor {path}", f"a {FORMAT} file", repr(exc))
        ) from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        got = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise DataFormatError(expected_got(f"property predictor {path}", FORMAT, got))
    c = blob["config"]
    cfg = PredictorConfig(
        image_shape=tuple(c["image_shape"]),
        names=tuple(c["names"]),
        softening=tuple(c["softening"]),
        mean=tuple(c["mean"]),
        std=tuple(c["std"]),
        width=int(c["width"]),
        features=int(c["features"]),
    )
    pred = PropertyPredictor(cfg)
    pred.net.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    pred.net.eval()
    return pred


def default_predictor_path() -> Path:
    """Path of the shipped predictor (``acie/deepscm/data/predictor.pt``)."""
    return Path(__file__).with_name("data") / "predictor.pt"


def load_default_predictor() -> PropertyPredictor:
    """The shipped predictor (64 x 64 g r i stamps; see ``data/PREDICTORS.md``)."""
    return load_predictor(default_predictor_path())
