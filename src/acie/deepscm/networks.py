"""Convolutional image encoder and conditional image decoder of the deep SCM.

Encoder (abduction)
    ``image -> q(s | x)``: a diagonal Gaussian posterior over the standardised
    properties, and ``(image, s) -> q(z | x, s)``: a diagonal Gaussian posterior over
    the latent code ``z`` that holds what the properties do not (orientation, shape
    details, …).
Decoder (prediction)
    ``(z, s) -> mu(z, s)``: the mean of the image mechanism in stretched, standardised
    image coordinates (see :mod:`acie.deepscm.scaling`), with a learned per-band noise
    scale. The image mechanism is ``x = mu(z, s) + sigma * eps`` with exogenous pixel
    noise ``eps ~ N(0, I)``, invertible in ``eps`` (Pawlowski et al. 2020, sec. 3.2).

FiLM decoder (format 2)
    ``(z, s) -> mu(z, s)`` and optionally a per-pixel log noise scale: the latent and the
    parents condition every upsampling stage through feature-wise affine modulation
    (FiLM, Perez et al. 2018, AAAI), each stage followed by a residual 3 x 3 convolution,
    so a change of the properties reaches every scale of the image directly (cf. the
    parent conditioning at every scale of Ribeiro et al. 2023, ICML).

Spatial sizes must be multiples of 16 (four stride-2 stages); 64 x 64 is the default.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from acie.errors import ShapeError, expected_got

__all__ = ["ConditionalDecoder", "FiLMDecoder", "ImageEncoder"]

_STAGES = 4


def _check_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    c, h, w = (int(v) for v in image_shape)
    if c < 1 or h % 2**_STAGES or w % 2**_STAGES or h < 16 or w < 16:
        raise ShapeError(
            expected_got(
                "image shape (C, H, W)", "C >= 1 and H, W positive multiples of 16", image_shape
            )
        )
    return c, h, w


class ImageEncoder(nn.Module):
    """Amortised abduction: property posterior ``q(s|x)`` and latent posterior ``q(z|x,s)``.

    Parameters
    ----------
    image_shape : tuple of int
        (C, H, W) of the input images.
    n_properties : int
        Dimension ``d`` of the standardised property vector.
    latent_dim : int
        Dimension of the latent code ``z``.
    width : int
        Channels of the first convolution (doubling up to 4x).
    """

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        n_properties: int,
        latent_dim: int,
        width: int = 16,
    ) -> None:
        super().__init__()
        c, h, w = _check_shape(image_shape)
        chans = [c, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for cin, cout in pairwise(chans):
            layers += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.SiLU()]
        self.conv = nn.Sequential(*layers, nn.Flatten())
        flat = chans[-1] * (h // 2**_STAGES) * (w // 2**_STAGES)
        feat = 8 * width
        self.features = nn.Sequential(nn.Linear(flat, feat), nn.SiLU())
        self.property_head = nn.Linear(feat, 2 * n_properties)
        self.latent_head = nn.Sequential(
            nn.Linear(feat + n_properties, feat), nn.SiLU(), nn.Linear(feat, 2 * latent_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image features (n, F) of standardised images (n, C, H, W)."""
        return self.features(self.conv(x))

    def property_posterior(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (n, d) of ``q(s | x)``."""
        mean, logvar = self.property_head(feat).chunk(2, dim=1)
        return mean, logvar.clamp(-12.0, 6.0)

    def latent_posterior(
        self, feat: torch.Tensor, s: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (n, k) of ``q(z | x, s)``."""
        mean, logvar = self.latent_head(torch.cat([feat, s], dim=1)).chunk(2, dim=1)
        return mean, logvar.clamp(-12.0, 6.0)


class ConditionalDecoder(nn.Module):
    """Image mechanism mean ``mu(z, s)`` (n, C, H, W) and per-band log noise scale.

    Parameters
    ----------
    image_shape : tuple of int
        (C, H, W) of the output images.
    n_properties : int
        Dimension of the conditioning property vector.
    latent_dim : int
        Dimension of the latent code.
    width : int
        Channels of the last hidden stage (the first has 4x).
    """

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        n_properties: int,
        latent_dim: int,
        width: int = 16,
    ) -> None:
        super().__init__()
        c, h, w = _check_shape(image_shape)
        self.h0, self.w0 = h // 2**_STAGES, w // 2**_STAGES
        self.c0 = 4 * width
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + n_properties, 8 * width),
            nn.SiLU(),
            nn.Linear(8 * width, self.c0 * self.h0 * self.w0),
            nn.SiLU(),
        )
        chans = [4 * width, 4 * width, 2 * width, width]
        layers: list[nn.Module] = []
        for cin, cout in pairwise(chans):
            layers += [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.SiLU()]
        layers += [
            nn.ConvTranspose2d(chans[-1], width, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, c, 3, padding=1),
        ]
        self.deconv = nn.Sequential(*layers)
        self.log_scale = nn.Parameter(torch.zeros(c))

    def forward(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Mean image (n, C, H, W) in standardised stretched coordinates."""
        hidden = self.fc(torch.cat([z, s], dim=1)).view(-1, self.c0, self.h0, self.w0)
        return self.deconv(hidden)

    def scale(self) -> torch.Tensor:
        """Per-band noise scale sigma (C,), bounded below by 1e-3."""
        return self.log_scale.clamp(min=-6.9).exp()


class FiLMDecoder(nn.Module):
    """Decoder conditioned on ``(z, s)`` at every scale (see the module docstring).

    Parameters
    ----------
    image_shape : tuple of int
        (C, H, W) of the output images.
    n_properties : int
        Dimension of the conditioning property vector.
    latent_dim : int
        Dimension of the latent code.
    width : int
        Channels of the last hidden stage (the first has 4x).
    per_pixel_scale : bool
        Also output a per-pixel log noise scale (C more output channels).
    """

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        n_properties: int,
        latent_dim: int,
        width: int = 16,
        per_pixel_scale: bool = False,
    ) -> None:
        super().__init__()
        c, h, w = _check_shape(image_shape)
        self.c = c
        self.per_pixel_scale = per_pixel_scale
        self.h0, self.w0 = h // 2**_STAGES, w // 2**_STAGES
        self.c0 = 4 * width
        cond = latent_dim + n_properties
        self.fc = nn.Sequential(
            nn.Linear(cond, 8 * width),
            nn.SiLU(),
            nn.Linear(8 * width, self.c0 * self.h0 * self.w0),
            nn.SiLU(),
        )
        chans = [4 * width, 4 * width, 2 * width, width, width]
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1) for cin, cout in pairwise(chans)
        )
        films = [nn.Linear(cond, 2 * cout) for cout in chans[1:]]
        for lin in films:  # start as the identity modulation
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.film = nn.ModuleList(films)
        self.res = nn.ModuleList(nn.Conv2d(cout, cout, 3, padding=1) for cout in chans[1:])
        self.out = nn.Conv2d(width, 2 * c if per_pixel_scale else c, 3, padding=1)
        self.act = nn.SiLU()
        self.log_scale = nn.Parameter(torch.zeros(c))  # the per-band scale, if used

    def features(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Output channels (n, C or 2C, H, W) before splitting mean and log scale."""
        cond = torch.cat([z, s], dim=1)
        h = self.fc(cond).view(-1, self.c0, self.h0, self.w0)
        for up, film, res in zip(self.up, self.film, self.res, strict=True):
            h = up(h)
            gamma, beta = film(cond)[:, :, None, None].chunk(2, dim=1)
            h = self.act(h * (1.0 + gamma) + beta)
            h = h + res(self.act(h))
        return self.out(h)

    def forward(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Mean image (n, C, H, W) in standardised stretched coordinates."""
        return self.features(z, s)[:, : self.c]

    def mean_and_log_scale(
        self, z: torch.Tensor, s: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and per-pixel log noise scale (n, C, H, W), the latter clamped to [-6.9, 3]."""
        if not self.per_pixel_scale:
            raise ShapeError(expected_got("decoder", "one built with per_pixel_scale", "none"))
        out = self.features(z, s)
        return out[:, : self.c], out[:, self.c :].clamp(-6.9, 3.0)

    def scale(self) -> torch.Tensor:
        """Per-band noise scale sigma (C,), bounded below by 1e-3."""
        return self.log_scale.clamp(min=-6.9).exp()
