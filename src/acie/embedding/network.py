"""The convolutional image encoder of the galaxy embedder and its pixel stretch (PyTorch).

Pixels arrive in nanomaggies per pixel (the simulator's and the deep SCM's units). They
are stretched per band with ``asinh(x / b) / 3`` (Lupton, Gunn & Szalay 1999), where the
softening ``b`` is the band's sky-noise sigma measured on the training images, so the
network sees sky noise at unit scale and galaxy cores compressed logarithmically. The
stretch is monotonic per band and the same for every image: it does not rescale fluxes
or colours from image to image.

The trunk is four stride-2 3x3 convolutions (64 -> 4 pixels) with GroupNorm and GELU,
global average pooling and a linear layer to ``feature_dim``. GroupNorm normalises each
image on its own, so an image's vector does not depend on the batch it is embedded in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["EncoderConfig", "ImageEncoder", "ProjectionHead", "asinh_stretch"]


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of :class:`ImageEncoder`.

    Attributes
    ----------
    bands : int
        Input channels (3: g, r, i).
    image_size : int
        Stamp side [pixels]; a multiple of 16.
    width : int
        Channels of the first convolution (doubled twice on the way down).
    feature_dim : int
        Size of the trunk's output vector (before any projection).
    """

    bands: int = 3
    image_size: int = 64
    width: int = 32
    feature_dim: int = 128

    def to_dict(self) -> dict[str, int]:
        """JSON-ready fields."""
        return asdict(self)


def asinh_stretch(images: torch.Tensor, softening: torch.Tensor) -> torch.Tensor:
    """``asinh(x / b) / 3`` per band; ``images`` (n, C, H, W), ``softening`` (C,) > 0."""
    return torch.asinh(images / softening.view(1, -1, 1, 1)) / 3.0


def _block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    groups = 8 if c_out % 8 == 0 else 1
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
        nn.GroupNorm(groups, c_out),
        nn.GELU(),
    ]


class ImageEncoder(nn.Module):
    """Stretched image (n, C, H, W) -> feature vector (n, feature_dim)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.trunk = nn.Sequential(
            *_block(config.bands, w, 2),
            *_block(w, 2 * w, 2),
            *_block(2 * w, 4 * w, 2),
            *_block(4 * w, 4 * w, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.out = nn.Linear(4 * w, config.feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (n, feature_dim) of stretched images (n, C, H, W)."""
        return self.out(self.trunk(x))


class ProjectionHead(nn.Module):
    """SimCLR's MLP head g(h): the contrastive loss is taken on its output, not on h."""

    def __init__(self, feature_dim: int, out_dim: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(feature_dim, feature_dim), nn.GELU(), nn.Linear(feature_dim, out_dim)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Projection (n, out_dim) of features (n, feature_dim)."""
        return self.net(h)
