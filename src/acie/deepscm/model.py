"""The deep structural causal model: property mechanisms + image encoder/decoder.

Generative model (Pawlowski, Castro & Glocker 2020, NeurIPS, "Deep Structural Causal
Models for Tractable Counterfactual Inference")::

    u_i ~ N(0, 1)                 s_i = f_i(u_i; pa_i)          (property SCM)
    z   ~ N(0, I_k)               x   = mu(z, s) + sigma * eps  (image mechanism)

trained by maximising the causal ELBO

    log p(x, s) >= log p(s) + E_{q(z|x,s)}[log p(x | z, s)] - KL(q(z|x,s) || p(z))

plus ``log q(s | x)``, the amortised property posterior that abducts the properties of
an image whose properties are not given (the usual case when serving).

Counterfactual (abduction - action - prediction), batched:

1. abduction: ``s_hat = E q(s|x)``, ``z_hat = E q(z|x,s_hat)``, ``u = f^{-1}(s_hat)``
   (with each mixture node's component), pixel noise ``eps`` from ``x`` and
   ``mu(z_hat, s_hat)`` by the pixel-noise mechanism (:mod:`acie.deepscm.pixel_noise`:
   per band in stretched space, per pixel, or sky + Poisson in linear flux units);
2. action: ``do(s_j = v)`` on the property graph;
3. prediction: ``s' = f(u)`` under the intervention (components kept; particles carry a
   quench draw and switch where the new weights move past it), ``x'`` from
   ``mu(z_hat, s')`` and the same ``eps`` (e.g. ``x' = mu' + sigma(mu') eps``).

:meth:`DeepSCM.abduct_particles` draws further particles from the posteriors for
uncertainty maps.

The null intervention therefore returns the input exactly (composition); what is left
for the network to get right is the change ``mu(z, s') - mu(z, s_hat)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from acie.deepscm.mechanisms import MechanismKind, PropertyMechanisms
from acie.deepscm.networks import ConditionalDecoder, FiLMDecoder, ImageEncoder
from acie.deepscm.pixel_noise import PixelNoiseKind, PoissonSkyNoise, gaussian_log_prob
from acie.errors import ConfigurationError, InputValidationError, expected_got

__all__ = ["Abduction", "DeepSCM", "DeepSCMConfig", "ElboTerms"]

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True, kw_only=True)
class DeepSCMConfig:
    """Architecture of a :class:`DeepSCM` (stored in every checkpoint).

    Parameters
    ----------
    parents : dict of str to list of str
        Property DAG as parent lists; key order is the column order.
    image_shape : tuple of int
        (C, H, W).
    latent_dim : int
        Dimension of the image latent ``z``.
    width : int
        Base channel width of encoder and decoder.
    mechanism : str
        ``"gaussian"`` or ``"sinh-arcsinh"`` (see :mod:`acie.deepscm.mechanisms`).
    mechanism_hidden : int
        Hidden width of each property mechanism.
    extra : dict
        Free-form notes.
    mixtures : dict of str to int
        Nodes with a conditional mixture mechanism and their number of components
        (e.g. ``{"log_sfr": 2}``); empty in format-1 checkpoints.
    decoder : str
        ``"v1"`` (conditioned at the input only; format 1) or ``"film"``
        (:class:`~acie.deepscm.networks.FiLMDecoder`, conditioned at every scale).
    pixel_noise : str
        ``"per-band"`` (format 1), ``"per-pixel"`` (needs the FiLM decoder) or
        ``"poisson"`` (see :mod:`acie.deepscm.pixel_noise`).
    image_stretch : dict
        ``softening``, ``mean``, ``std`` of the image scaler; needed by ``"poisson"``.
    """

    parents: dict[str, list[str]]
    image_shape: tuple[int, int, int] = (1, 64, 64)
    latent_dim: int = 16
    width: int = 16
    mechanism: str = MechanismKind.gaussian.value
    mechanism_hidden: int = 32
    extra: dict[str, object] = field(default_factory=dict)
    mixtures: dict[str, int] = field(default_factory=dict)
    decoder: str = "v1"
    pixel_noise: str = PixelNoiseKind.per_band.value
    image_stretch: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields (the image shape as a list), the inverse of :meth:`from_dict`."""
        d = asdict(self)
        d["image_shape"] = list(self.image_shape)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> DeepSCMConfig:
        """The config that :meth:`to_dict` wrote."""
        d = dict(d)
        d["image_shape"] = tuple(d["image_shape"])  # type: ignore[arg-type]
        return cls(**d)  # type: ignore[arg-type]


@dataclass
class ElboTerms:
    """Per-sample terms (n,) of the training objective, in nats."""

    log_p_s: torch.Tensor
    log_p_x: torch.Tensor
    kl_z: torch.Tensor
    log_q_s: torch.Tensor

    @property
    def elbo(self) -> torch.Tensor:
        """The causal ELBO (n,), a lower bound on ``log p(x, s)``."""
        return self.log_p_s + self.log_p_x - self.kl_z


@dataclass
class Abduction:
    """Everything abducted from a batch of images (standardised coordinates)."""

    x: torch.Tensor  # (n, C, H, W) stretched, standardised input
    s: torch.Tensor  # (n, d) posterior mean of the properties
    s_logvar: torch.Tensor  # (n, d) posterior log-variance of the properties
    z: torch.Tensor  # (n, k) posterior mean of the latent
    u: torch.Tensor  # (n, d) property noise, f^{-1}(s)
    residual: torch.Tensor  # (n, C, H, W) abducted pixel noise x - mu(z, s)
    # (n, d) int64 abducted mixture component of each node (0 for non-mixture nodes);
    # None = recompute the most probable component from ``s`` when acting
    component: torch.Tensor | None = None
    # (n, C, H, W) per-pixel noise scale at (z, s) ("per-pixel" noise); None = recompute
    scale: torch.Tensor | None = None
    # (n, d) float64 abducted quench draw of each mixture node, see
    # ConditionalMixtureMechanism; NaN or None = keep the abducted component under do()
    draw: torch.Tensor | None = None


class DeepSCM(nn.Module):
    """Deep SCM over galaxy properties and images (see module docstring)."""

    def __init__(self, config: DeepSCMConfig) -> None:
        super().__init__()
        self.config = config
        d = len(config.parents)
        self.mechanisms = PropertyMechanisms(
            parents=config.parents,
            kind=config.mechanism,
            hidden=config.mechanism_hidden,
            mixtures=config.mixtures,
        )
        self.encoder = ImageEncoder(
            image_shape=config.image_shape,
            n_properties=d,
            latent_dim=config.latent_dim,
            width=config.width,
        )
        try:
            self.pixel_noise = PixelNoiseKind(config.pixel_noise)
        except ValueError:
            raise ConfigurationError(
                expected_got(
                    "pixel_noise", f"one of {[k.value for k in PixelNoiseKind]}", config.pixel_noise
                )
            ) from None
        per_pixel = self.pixel_noise is PixelNoiseKind.per_pixel
        dec_args = {
            "image_shape": config.image_shape,
            "n_properties": d,
            "latent_dim": config.latent_dim,
            "width": config.width,
        }
        self.decoder: ConditionalDecoder | FiLMDecoder
        if config.decoder == "film":
            self.decoder = FiLMDecoder(**dec_args, per_pixel_scale=per_pixel)  # type: ignore[arg-type]
        elif config.decoder == "v1" and not per_pixel:
            self.decoder = ConditionalDecoder(**dec_args)  # type: ignore[arg-type]
        else:
            raise ConfigurationError(
                expected_got(
                    "decoder",
                    "'v1' or 'film' ('film' for per-pixel noise)",
                    f"{config.decoder!r} with {config.pixel_noise!r} noise",
                )
            )
        self.noise: PoissonSkyNoise | None = None
        if self.pixel_noise is PixelNoiseKind.poisson:
            st = config.image_stretch
            if not all(k in st for k in ("softening", "mean", "std")):
                raise ConfigurationError(
                    expected_got(
                        "image_stretch", "softening, mean and std for poisson noise", sorted(st)
                    )
                )
            self.noise = PoissonSkyNoise(softening=st["softening"], mean=st["mean"], std=st["std"])

    def _mean_and_log_scale(
        self, z: torch.Tensor, s: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decoder mean (n, C, H, W) and log noise scale in stretched coordinates."""
        if isinstance(self.decoder, FiLMDecoder) and self.decoder.per_pixel_scale:
            return self.decoder.mean_and_log_scale(z, s)
        mu = self.decoder(z, s)
        if self.pixel_noise is PixelNoiseKind.per_band:
            return mu, torch.log(self.decoder.scale()).view(1, -1, 1, 1).expand_as(mu)
        return mu, None

    def image_log_prob(
        self, x: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor | None
    ) -> torch.Tensor:
        """``log p(x | mu)`` (n,) [nats] in stretched, standardised image coordinates."""
        if self.noise is not None:
            return self.noise.log_prob(x, mu)
        assert log_sigma is not None
        return gaussian_log_prob(x, mu, log_sigma)

    @property
    def property_names(self) -> list[str]:
        """The property nodes in column order of the property matrix ``s`` (n, d)."""
        return list(self.mechanisms.names)

    def elbo_terms(self, x: torch.Tensor, s: torch.Tensor) -> ElboTerms:
        """Objective terms for stretched images ``x`` (n, C, H, W) with properties ``s`` (n, d).

        Uses one reparameterised sample of ``z`` (Kingma & Welling 2014).
        """
        feat = self.encoder(x)
        s_mean, s_logvar = self.encoder.property_posterior(feat)
        log_q_s = -0.5 * ((s - s_mean) ** 2 * torch.exp(-s_logvar) + s_logvar + _LOG_2PI).sum(1)
        z_mean, z_logvar = self.encoder.latent_posterior(feat, s)
        z = z_mean + torch.exp(0.5 * z_logvar) * torch.randn_like(z_mean)
        kl = 0.5 * (z_mean**2 + z_logvar.exp() - 1.0 - z_logvar).sum(1)
        mu, log_sigma = self._mean_and_log_scale(z, s)
        log_p_x = self.image_log_prob(x, mu, log_sigma)
        return ElboTerms(
            log_p_s=self.mechanisms.log_prob(s), log_p_x=log_p_x, kl_z=kl, log_q_s=log_q_s
        )

    @torch.no_grad()
    def abduct(self, x: torch.Tensor) -> Abduction:
        """Abduction for stretched images ``x`` (n, C, H, W)."""
        feat = self.encoder(x)
        s, s_logvar = self.encoder.property_posterior(feat)
        z, _ = self.encoder.latent_posterior(feat, s)
        u, comp = self.mechanisms.abduct_noise(s)
        # the point abduction keeps each mixture component (NaN draws): the posterior-median
        # draw (``mechanisms.abduct_draws(s, comp)``) switches a galaxy iff P(switch) > 1/2,
        # which on held-out galaxies quenches 10 % of star-forming ones spuriously
        draw = torch.full(s.shape, math.nan, dtype=torch.float64, device=s.device)
        return self._abduction(x, s, s_logvar, z, u, comp, draw)

    def _abduction(
        self,
        x: torch.Tensor,
        s: torch.Tensor,
        s_logvar: torch.Tensor,
        z: torch.Tensor,
        u: torch.Tensor,
        comp: torch.Tensor,
        draw: torch.Tensor,
    ) -> Abduction:
        mu, log_sigma = self._mean_and_log_scale(z, s)
        scale = (
            torch.exp(log_sigma)
            if self.pixel_noise is PixelNoiseKind.per_pixel and log_sigma is not None
            else None
        )
        return Abduction(
            x=x,
            s=s,
            s_logvar=s_logvar,
            z=z,
            u=u,
            residual=x - mu,
            component=comp,
            scale=scale,
            draw=draw,
        )

    @torch.no_grad()
    def abduct_particles(
        self,
        x: torch.Tensor,
        n_particles: int = 1,
        generator: torch.Generator | None = None,
    ) -> list[Abduction]:
        """Stochastic abduction: ``n_particles`` draws from the posterior of the exogenous noise.

        Particle 0 is :meth:`abduct` (the posterior mean, deterministic, keeping each
        mixture component). Every further
        particle ``p`` draws, for stretched images ``x`` (n, C, H, W),

        1. properties ``s_p ~ q(s | x)`` (the amortised diagonal Gaussian);
        2. the latent ``z_p ~ q(z | x, s_p)``;
        3. the property noise ``u_p = f^{-1}(s_p)``, with each mixture node's component drawn
           from its posterior responsibilities ``p(k | s_p, pa)`` and its quench draw from
           the posterior given that component, uniform on the component's interval of
           cumulative weights (the draw is not identifiable from the image, so the
           particles' spread carries whether the galaxy switches component under ``do``);
        4. the pixel noise ``x - mu(z_p, s_p)``, so each particle reproduces ``x`` exactly
           under the null intervention.

        Running :meth:`act` and :meth:`predict` on every particle gives a sample of
        counterfactuals; their spread is the per-pixel / per-property uncertainty.

        Parameters
        ----------
        x : Tensor (n, C, H, W)
            Stretched, standardised images.
        n_particles : int
            Number of particles, >= 1.
        generator : torch.Generator, optional
            CPU generator for the draws (seeded = reproducible on any device).

        Returns
        -------
        list of Abduction
            ``n_particles`` abductions of the whole batch.
        """
        if isinstance(n_particles, bool) or not isinstance(n_particles, int) or n_particles < 1:
            raise InputValidationError(expected_got("n_particles", "an integer >= 1", n_particles))
        first = self.abduct(x)
        out = [first]
        if n_particles == 1:
            return out
        feat = self.encoder(x)
        s_mean, s_logvar = self.encoder.property_posterior(feat)

        def normal(shape: torch.Size) -> torch.Tensor:
            return torch.randn(shape, generator=generator, dtype=x.dtype).to(x.device)

        for _ in range(n_particles - 1):
            s = s_mean + torch.exp(0.5 * s_logvar) * normal(s_mean.shape)
            z_mean, z_logvar = self.encoder.latent_posterior(feat, s)
            z = z_mean + torch.exp(0.5 * z_logvar) * normal(z_mean.shape)
            u, comp = self.mechanisms.abduct_noise(s, generator=generator)
            draw = self.mechanisms.abduct_draws(s, comp, generator=generator)
            out.append(self._abduction(x, s, s_logvar, z, u, comp, draw))
        return out

    @torch.no_grad()
    def act(self, ab: Abduction, interventions: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Counterfactual properties (n, d) under ``do(interventions)`` (standardised)."""
        if not interventions:
            return ab.s.clone()
        return self.mechanisms.predict(ab.u, interventions, components=ab.component, draws=ab.draw)

    @torch.no_grad()
    def predict(self, ab: Abduction, s_cf: torch.Tensor) -> torch.Tensor:
        """Counterfactual stretched images (n, C, H, W) for properties ``s_cf`` (n, d).

        The abducted pixel noise is reused as the pixel-noise mechanism defines it
        (:mod:`acie.deepscm.pixel_noise`): the stretched residual (``per-band``),
        ``mu' + sigma' (x - mu) / sigma`` per pixel (``per-pixel``), or the same in
        linear flux units with the sky + Poisson sigma (``poisson``).
        """
        if self.pixel_noise is PixelNoiseKind.per_band:
            return self.decoder(ab.z, s_cf) + ab.residual
        mu_hat = ab.x - ab.residual
        if self.noise is not None:
            eps = self.noise.abduct(ab.x, mu_hat)
            return self.noise.generate(self.decoder(ab.z, s_cf), eps)
        scale = ab.scale
        if scale is None:
            _, log_sigma = self._mean_and_log_scale(ab.z, ab.s)
            assert log_sigma is not None
            scale = torch.exp(log_sigma)
        mu_cf, log_sigma_cf = self._mean_and_log_scale(ab.z, s_cf)
        assert log_sigma_cf is not None
        return mu_cf + torch.exp(log_sigma_cf) * (ab.residual / scale)

    @torch.no_grad()
    def counterfactual(
        self, x: torch.Tensor, interventions: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, Abduction, torch.Tensor]:
        """Abduction, action and prediction in one call: (x', abduction, s')."""
        ab = self.abduct(x)
        s_cf = self.act(ab, interventions)
        return self.predict(ab, s_cf), ab, s_cf
