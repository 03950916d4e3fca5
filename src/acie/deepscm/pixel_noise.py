"""Pixel-noise mechanisms of the deep SCM image node: ``x = g(mu(z, s), eps)``.

Each is invertible in the exogenous pixel noise ``eps ~ N(0, I)``, so abduction is
``eps = g^{-1}(x; mu)`` and a counterfactual is ``x' = g(mu', eps)``: the same noise
realisation, scaled as it would be in the counterfactual image.

``per-band`` (format 1)
    ``x_t = mu_t + sigma_c eps`` in the stretched, standardised coordinates ``x_t`` of
    :class:`~acie.deepscm.scaling.ImageScaler` with one learned ``sigma_c`` per band. A
    counterfactual carries the stretched residual over unchanged, which amplifies noise
    where the asinh stretch is compressive (bright cores).
``per-pixel``
    ``x_t = mu_t + sigma(z, s) eps`` with a per-pixel scale output by the decoder.
``poisson``
    In linear flux units, where the simulator's (and a CCD's) noise model is exact:
    ``x = mu + sqrt(sky_c^2 + k_c max(mu, 0)) eps`` with ``x = b sinh(s_c x_t + m_c)``
    (the inverse stretch), learned per-band sky ``sky_c`` and inverse gain ``k_c``
    [image units]. Its density is reported in the stretched coordinates (the
    log-Jacobian of the inverse stretch added) so it compares with the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

import torch
from torch import nn

__all__ = ["PixelNoiseKind", "PoissonSkyNoise", "gaussian_log_prob"]

_LOG_2PI = math.log(2.0 * math.pi)


class PixelNoiseKind(StrEnum):
    """Family of the image node's pixel-noise mechanism (see the module docstring)."""

    per_band = "per-band"
    per_pixel = "per-pixel"
    poisson = "poisson"


def gaussian_log_prob(x: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """``sum log N(x; mu, exp(log_sigma)^2)`` over all but the first axis (n,) [nats]."""
    r = (x - mu) * torch.exp(-log_sigma)
    return (-0.5 * r**2 - log_sigma - 0.5 * _LOG_2PI).flatten(1).sum(1)


def _col(v: Sequence[float]) -> torch.Tensor:
    return torch.tensor([float(a) for a in v], dtype=torch.float32).view(1, -1, 1, 1)


class PoissonSkyNoise(nn.Module):
    """Sky + Poisson pixel noise in linear flux units (``poisson`` in the module docstring).

    Parameters
    ----------
    softening, mean, std : sequence of float
        The per-band stretch of :class:`~acie.deepscm.scaling.ImageScaler`
        (``softening`` in image units, e.g. nanomaggies per pixel).
    """

    b: torch.Tensor
    m: torch.Tensor
    s: torch.Tensor

    def __init__(
        self, *, softening: Sequence[float], mean: Sequence[float], std: Sequence[float]
    ) -> None:
        super().__init__()
        self.register_buffer("b", _col(softening))
        self.register_buffer("m", _col(mean))
        self.register_buffer("s", _col(std))
        # the softening is the sky sigma measured on the border pixels: a good start;
        # k starts at b (Poisson variance b^2 at a flux of b)
        self.log_sky = nn.Parameter(torch.log(_col(softening)).view(-1))
        self.log_k = nn.Parameter(torch.log(_col(softening)).view(-1))

    def to_linear(self, t: torch.Tensor) -> torch.Tensor:
        """Image units from stretched, standardised coordinates (the inverse stretch).

        The stretched value is clamped to ``|asinh(x / b)| <= 25`` (``|x| <~ 4e10 b``)
        so an untrained decoder's mean cannot overflow float32.
        """
        return self.b * torch.sinh((t * self.s + self.m).clamp(-25.0, 25.0))

    def to_stretched(self, x: torch.Tensor) -> torch.Tensor:
        """Stretched, standardised coordinates from image units."""
        return (torch.asinh(x / self.b) - self.m) / self.s

    def sigma(self, mu: torch.Tensor) -> torch.Tensor:
        """Per-pixel noise sigma [image units] of a mean image ``mu`` [image units]."""
        sky = torch.exp(self.log_sky).view(1, -1, 1, 1)
        k = torch.exp(self.log_k).view(1, -1, 1, 1)
        return torch.sqrt(sky**2 + k * torch.relu(mu))

    def log_prob(self, x_t: torch.Tensor, mu_t: torch.Tensor) -> torch.Tensor:
        """``log p(x_t | mu_t)`` (n,) [nats] in stretched coordinates."""
        x, mu = self.to_linear(x_t), self.to_linear(mu_t)
        lp = gaussian_log_prob(x, mu, torch.log(self.sigma(mu)))
        a = x_t * self.s + self.m  # |dx/dx_t| = b s cosh(a)
        log_cosh = torch.logaddexp(a, -a) - math.log(2.0)
        log_jac = (torch.log(self.b * self.s) + log_cosh).flatten(1).sum(1)
        return lp + log_jac

    def abduct(self, x_t: torch.Tensor, mu_t: torch.Tensor) -> torch.Tensor:
        """Standard-normal pixel noise ``eps`` (n, C, H, W) of ``x_t`` given its mean."""
        mu = self.to_linear(mu_t)
        return (self.to_linear(x_t) - mu) / self.sigma(mu)

    def generate(self, mu_t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Stretched image of mean ``mu_t`` with the pixel noise ``eps``."""
        mu = self.to_linear(mu_t)
        return self.to_stretched(mu + self.sigma(mu) * eps)
