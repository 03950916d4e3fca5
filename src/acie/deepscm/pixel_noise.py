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
from torch.nn import functional as F

from acie.errors import ConfigurationError, expected_got

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

    @torch.no_grad()
    def fit_moments(self, x_t: torch.Tensor, mu_t: torch.Tensor) -> None:
        """Set ``sky_c`` and ``k_c`` by weighted least squares of the residual variance on ``[1, mu]``.

        The method of moments of the noise model (its variance is linear in the mean),
        per band over all pixels of ``x_t`` and a mean image ``mu_t`` (n, C, H, W) from a
        trained decoder; used when warm-starting, where gradient steps on the two
        log-parameters would take many epochs. Estimates are floored at 1e-6 of the
        softening (sky) and 1e-9 (k) so the logarithms stay finite.
        """
        x, mu = self.to_linear(x_t).double(), torch.relu(self.to_linear(mu_t)).double()
        # high-pass the residual (minus its 3 x 3 running mean) so that the decoder's
        # smooth errors of the mean do not count as noise: white noise of variance v
        # keeps (1 - 1/9) v of it
        r = x - mu
        hp = r - F.avg_pool2d(r, 3, stride=1, padding=1, count_include_pad=False)
        r2 = hp**2 * (9.0 / 8.0)
        for c in range(x.shape[1]):
            m, y = mu[:, c].flatten(), r2[:, c].flatten()
            a = torch.stack([torch.ones_like(m), m], dim=1)
            w = torch.ones_like(m)
            for _ in range(3):  # iteratively reweighted: var(r^2) ~ (sky^2 + k mu)^2
                coef = torch.linalg.lstsq(a * w[:, None], (y * w)[:, None]).solution[:, 0]
                fit = (coef[0] + coef[1] * m).clamp(min=float(y.mean()) * 1e-3)
                w = 1.0 / fit
            sky2 = max(float(coef[0]), (1e-6 * float(self.b.flatten()[c])) ** 2)
            self.log_sky[c] = 0.5 * torch.log(torch.tensor(sky2))
            self.log_k[c] = torch.log(torch.tensor(max(float(coef[1]), 1e-9)))

    @torch.no_grad()
    def calibrate(self, sky_sigma: Sequence[float], gain: float) -> None:
        """Fix the noise to an instrument's known sky sigma per band and gain; stop learning it.

        Parameters
        ----------
        sky_sigma : sequence of float
            Background noise per band [image units per pixel].
        gain : float
            [electrons per image unit]: the Poisson variance is ``max(mu, 0) / gain``.
        """
        sky = torch.as_tensor([float(v) for v in sky_sigma], dtype=self.log_sky.dtype)
        if sky.shape != self.log_sky.shape or not bool((sky > 0).all()) or not gain > 0:
            raise ConfigurationError(
                expected_got(
                    "instrument noise",
                    f"{self.log_sky.numel()} positive sky sigmas and a positive gain",
                    f"{list(sky_sigma)} and {gain}",
                )
            )
        self.log_sky.copy_(torch.log(sky))
        self.log_k.fill_(-math.log(float(gain)))
        self.log_sky.requires_grad_(False)
        self.log_k.requires_grad_(False)
