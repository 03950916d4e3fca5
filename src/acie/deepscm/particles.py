"""Stochastic abduction with several particles: counterfactual uncertainty maps and intervals.

The deterministic counterfactual abducts the posterior means of ``q(s|x)`` and
``q(z|x,s)``. Its uncertainty comes from the spread of those posteriors: each of
``P`` particles draws

    s_k ~ q(s | x),   z_k ~ q(z | x, s_k),   u_k = f^{-1}(s_k),   eps_k = x - mu(z_k, s_k)

(:func:`sample_abduction`), so every particle still reproduces the observed image
exactly under the null intervention; the engine then acts and predicts on every
particle (a relative intervention is resolved against the particle's own abducted
value) and checks its physics like the main counterfactual. :func:`summarise` turns
the particles into a per-pixel standard deviation (the same units as the image) and
per-property quantiles (16-84 % and 2.5-97.5 % intervals, and the median) of the
counterfactual properties; particles refused by the physics check are left out and
counted (``accepted``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from acie.deepscm.mechanisms import ConditionalMixtureMechanism
from acie.deepscm.model import Abduction, DeepSCM
from acie.errors import InputValidationError, OutOfRangeError, expected_got

__all__ = [
    "MAX_PARTICLES",
    "QUANTILES",
    "ParticleSummary",
    "check_particles",
    "midpoint_particles",
    "sample_abduction",
    "summarise",
]

#: Most particles per galaxy (each costs one more decoder pass per image).
MAX_PARTICLES = 64

#: Quantile levels [%] of the counterfactual properties returned per galaxy.
QUANTILES: dict[str, float] = {"p2.5": 2.5, "p16": 16.0, "p50": 50.0, "p84": 84.0, "p97.5": 97.5}


@dataclass(frozen=True)
class ParticleSummary:
    """What ``n_particles`` stochastic abductions say about a batch of ``n`` counterfactuals.

    Attributes
    ----------
    n_particles : int
        Particles drawn per galaxy.
    image_std : ndarray (n, C, H, W) float32
        Per-pixel standard deviation of the counterfactual image over the accepted
        particles [image units]; NaN where fewer than two particles were accepted.
    intervals : dict of str to dict of str to ndarray (n,)
        Property -> quantile name of :data:`QUANTILES` -> value, in the property's unit.
    accepted : ndarray (n,) int
        Particles that passed the physics check (and range check of a relative target).
    """

    n_particles: int
    image_std: np.ndarray
    intervals: dict[str, dict[str, np.ndarray]]
    accepted: np.ndarray

    def rows(self, sl: slice | np.ndarray) -> ParticleSummary:
        """The summary of the galaxies ``sl``."""
        return ParticleSummary(
            n_particles=self.n_particles,
            image_std=self.image_std[sl],
            intervals={k: {q: v[sl] for q, v in d.items()} for k, d in self.intervals.items()},
            accepted=self.accepted[sl],
        )


def check_particles(n_particles: object, name: str = "n_particles") -> int:
    """``n_particles`` as an int in 0..:data:`MAX_PARTICLES` (0 = no particles).

    ``name`` is the argument's name in the messages (e.g. ``expected_draws``).

    Raises
    ------
    InputValidationError
        Not an integer (booleans and floats included).
    OutOfRangeError
        Negative or above :data:`MAX_PARTICLES`.
    """
    if isinstance(n_particles, bool) or not isinstance(n_particles, int | np.integer):
        raise InputValidationError(expected_got(name, "an integer", type(n_particles).__name__))
    if not 0 <= int(n_particles) <= MAX_PARTICLES:
        raise OutOfRangeError(expected_got(name, f"0 to {MAX_PARTICLES}", n_particles))
    return int(n_particles)


@torch.no_grad()
def sample_abduction(
    model: DeepSCM, x: torch.Tensor, n_particles: int, generator: torch.Generator
) -> Abduction:
    """``n_particles`` abductions of each image ``x`` (n, C, H, W), particle-major (P*n).

    Uses the model's own ``abduct_particles(x, n_particles, generator=...)`` (a list of
    per-particle abductions, stacked here) when it has one; otherwise draws from the
    encoder's posteriors (module docstring). ``generator`` is a CPU generator, so a seed
    gives the same draws on any device.
    """
    own = getattr(model, "abduct_particles", None)
    if callable(own):
        parts = own(x, n_particles, generator=generator)
        return _stack(parts) if isinstance(parts, list | tuple) else parts
    enc, dec = model.encoder, model.decoder
    feat = enc(x)
    s_mean, s_logvar = enc.property_posterior(feat)
    rep = (n_particles,) + (1,) * (x.ndim - 1)
    xr, feat_r = x.repeat(rep), feat.repeat(n_particles, 1)
    s_mean_r, s_logvar_r = s_mean.repeat(n_particles, 1), s_logvar.repeat(n_particles, 1)
    eps = torch.randn(s_mean_r.shape, generator=generator, dtype=x.dtype).to(x.device)
    s = s_mean_r + torch.exp(0.5 * s_logvar_r) * eps
    z_mean, z_logvar = enc.latent_posterior(feat_r, s)
    eps_z = torch.randn(z_mean.shape, generator=generator, dtype=x.dtype).to(x.device)
    z = z_mean + torch.exp(0.5 * z_logvar) * eps_z
    u = model.mechanisms.abduct(s)
    return Abduction(x=xr, s=s, s_logvar=s_logvar_r, z=z, u=u, residual=xr - dec(z, s))


@torch.no_grad()
def midpoint_particles(
    model: DeepSCM, x: torch.Tensor, n_particles: int, *, base: Abduction | None = None
) -> Abduction:
    """Particle-major (P*n) point abductions whose quench draws are the midpoint rule.

    Every particle is the point abduction ``base`` (default
    :meth:`~acie.deepscm.model.DeepSCM.abduct`: the most probable component of each
    mixture node) with the quench draw of particle ``j`` at ``lo + (hi − lo)(j + 1/2)/P``
    of its posterior interval ``[lo, hi)`` given the component
    (:meth:`~acie.deepscm.mechanisms.ConditionalMixtureMechanism.draw_interval`): the
    equally weighted nodes of the expectation over the part of the exogenous noise the
    image does not identify (which star-forming galaxies quench under ``do``), without
    Monte Carlo noise. A model without mixture nodes gives P copies of ``base``. The
    engine's expected answer (``expected_draws``) and the evaluation's posterior-mean
    row use it (:mod:`acie.deepscm.identifiability_floor`).
    """
    first = model.abduct(x) if base is None else base
    mech = model.mechanisms
    parts = []
    for j in range(n_particles):
        draw = torch.full(first.s.shape, float("nan"), dtype=torch.float64, device=x.device)
        for name in mech.mixtures:
            i = mech.index[name]
            pa = first.s[:, [mech.index[p] for p in mech.parents[name]]]
            m = mech.mechanism(name)
            assert isinstance(m, ConditionalMixtureMechanism)
            assert first.component is not None
            lo, hi = m.draw_interval(pa, first.component[:, i])
            draw[:, i] = lo + (hi - lo) * (j + 0.5) / n_particles
        parts.append(replace(first, draw=draw))
    return _stack(parts)


def _stack(parts: list[Abduction] | tuple[Abduction, ...]) -> Abduction:
    """One particle-major abduction (P*n) from P abductions of the batch."""
    first = parts[0]
    out = {}
    for f in fields(first):
        vals = [getattr(p, f.name) for p in parts]
        out[f.name] = None if any(v is None for v in vals) else torch.cat(vals, dim=0)
    return type(first)(**out)  # type: ignore[arg-type]


def summarise(
    images: np.ndarray, properties: dict[str, np.ndarray], accepted: np.ndarray
) -> ParticleSummary:
    """Summarise particles: ``images`` (P, n, C, H, W), ``properties`` name -> (P, n).

    ``accepted`` (P, n) bool marks the particles to use.
    """
    p = images.shape[0]
    keep = np.asarray(accepted, dtype=bool)
    count = keep.sum(axis=0)
    imgs = np.where(keep[(...,) + (None,) * (images.ndim - 2)], images, np.nan).astype(np.float64)
    std = np.full(images.shape[1:], np.nan)
    enough = count >= 2
    if enough.any():
        std[enough] = np.nanstd(imgs[:, enough], axis=0, ddof=1)
    intervals: dict[str, dict[str, np.ndarray]] = {}
    for name, v in properties.items():
        vals = np.where(keep, np.asarray(v, dtype=np.float64), np.nan)
        q = np.full((len(QUANTILES), vals.shape[1]), np.nan)
        some = count >= 1
        if some.any():
            q[:, some] = np.nanpercentile(vals[:, some], list(QUANTILES.values()), axis=0)
        intervals[name] = {k: q[i] for i, k in enumerate(QUANTILES)}
    return ParticleSummary(
        n_particles=p, image_std=std.astype(np.float32), intervals=intervals, accepted=count
    )
