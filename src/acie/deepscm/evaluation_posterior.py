"""The posterior-mean counterfactual: the particle mean of a relative intervention's images.

The point counterfactual of the engine commits each galaxy to one branch of every
mixture node (e.g. star-forming or quenched ``log_sfr``), because it reuses the
posterior-mean abduction. The stochastic abduction of :mod:`acie.deepscm.particles`
instead draws, per particle, the properties, the latent, each mixture node's component
and its quench draw from their posteriors (:meth:`acie.deepscm.model.DeepSCM.abduct_particles`),
so under ``do`` a particle switches branch with the posterior probability that the
galaxy would. The mean over ``P`` particles of the counterfactual image is therefore
the model's own estimate of the *expected* counterfactual image ``E[x' | x]``, and,
because the total flux is a linear stamp sum (:func:`acie.galaxy.measure.total_flux`),
its flux is the particle mean of the counterfactual fluxes: the model's analogue of the
oracle's ``expected`` answer of :mod:`acie.deepscm.identifiability_floor`.

:func:`posterior_mean_images` computes it for the evaluation's relative intervention
``do(node = own value + shift)``, each particle shifted from its *own* abducted value
(clipped into the node's validity range like
:func:`acie.deepscm.evaluation_tasks.shifted_values`), unprojected like the evaluation's
point counterfactuals. Three kinds of particle: the engine's (``sample_abduction``:
properties, latent, component and quench draw drawn; particle 0 is the deterministic
abduction), *branch* draws (:func:`branch_particles`: only the mixture nodes' component
and quench draw drawn) and *midpoint* draws (:func:`midpoint_particles`: the point
abduction with the quench draw at the midpoint-rule nodes of its posterior, no Monte
Carlo noise; what the evaluation reports). On the 1000 held-out galaxies the branch and
midpoint means bring the do(M* × 2) flux-error p95 from 0.137 to 0.101 dex; the
engine's particles do not (``docs/deepscm.md``, identifiability floor). Particles whose image is not finite are left out of
the mean. The draws come from one CPU generator seeded with ``seed`` and consumed chunk
by chunk, so a seed and ``batch_size`` give the same images on any device.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from acie.deepscm.model import Abduction, DeepSCM
from acie.deepscm.particles import check_particles, midpoint_particles, sample_abduction
from acie.errors import InputValidationError, expected_got

if TYPE_CHECKING:
    from acie.deepscm.engine import CounterfactualEngine

__all__ = ["branch_particles", "midpoint_particles", "posterior_mean_images"]


@torch.no_grad()
def branch_particles(
    model: DeepSCM, x: torch.Tensor, n_particles: int, generator: torch.Generator
) -> Abduction:
    """Particle-major (P*n) abductions that differ only in the mixture nodes' exogenous noise.

    Particle 0 is :meth:`~acie.deepscm.model.DeepSCM.abduct` (no quench draw: it keeps
    its branch under ``do``, as the point answer does); every further particle
    keeps its properties, latent, continuous noise of non-mixture nodes and pixel noise,
    and draws each mixture node's component from its posterior responsibilities and its
    quench draw from the posterior given that component (the part of the exogenous
    noise that the image does not identify).
    """
    first = model.abduct(x)
    parts = [first]
    for _ in range(n_particles - 1):
        u, comp = model.mechanisms.abduct_noise(first.s, generator=generator)
        draw = model.mechanisms.abduct_draws(first.s, comp, generator=generator)
        parts.append(replace(first, u=u, component=comp, draw=draw))
    return _cat(parts)


def _cat(parts: list[Abduction]) -> Abduction:
    """One particle-major abduction (P*n) from P abductions of the batch."""
    out = {}
    for f in fields(parts[0]):
        vals = [getattr(p, f.name) for p in parts]
        out[f.name] = None if any(v is None for v in vals) else torch.cat(vals, dim=0)
    return type(parts[0])(**out)  # type: ignore[arg-type]


@torch.no_grad()
def posterior_mean_images(
    engine: CounterfactualEngine,
    images: np.ndarray,
    node: str,
    shift: float,
    n_particles: int,
    *,
    seed: int = 0,
    batch_size: int = 100,
    branch_only: bool = False,
    midpoint: bool = False,
) -> np.ndarray:
    """Mean over ``n_particles`` particles of the counterfactual images (n, C, H, W) float64.

    Parameters
    ----------
    engine : CounterfactualEngine
        The model (its checkpoint's model, image and property scalers are used).
    images : ndarray (n, C, H, W)
        Factual images [image units].
    node, shift : str, float
        The relative intervention ``do(node = particle's own value + shift)`` [node unit].
    n_particles : int
        Particles per galaxy, 1 to :data:`~acie.deepscm.particles.MAX_PARTICLES`
        (1 = the point counterfactual).
    seed, batch_size : int
        Seed of the draws; galaxies per chunk.
    branch_only : bool
        Draw only each mixture node's component and quench draw (:func:`branch_particles`),
        keeping the posterior-mean properties, latent and pixel noise of the point answer.
    midpoint : bool
        As ``branch_only``, but the quench draws are the midpoint rule on their posterior
        interval (:func:`midpoint_particles`; no random draws, ``seed`` unused).

    Raises
    ------
    InputValidationError
        ``n_particles`` < 1, ``batch_size`` < 1, or ``node`` not a property of the engine.
    """
    from acie.deepscm.evaluation_tasks import shifted_values

    if check_particles(n_particles) < 1:
        raise InputValidationError(expected_got("n_particles", "an integer >= 1", n_particles))
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputValidationError(expected_got("batch_size", "an integer >= 1", batch_size))
    if node not in engine.property_names:
        raise InputValidationError(expected_got("node", " | ".join(engine.property_names), node))
    ckpt = engine.checkpoint
    model, props = ckpt.model, ckpt.properties
    device = torch.device(engine.device)
    x_all, _ = engine.watermark.remove(np.asarray(images, dtype=np.float32))
    gen = torch.Generator().manual_seed(int(seed))
    out = np.zeros(x_all.shape, dtype=np.float64)
    for i in range(0, x_all.shape[0], batch_size):
        xt = ckpt.images.forward(torch.from_numpy(x_all[i : i + batch_size]).to(device))
        n = xt.shape[0]
        if midpoint:
            ab = midpoint_particles(model, xt, n_particles)
        elif branch_only:
            ab = branch_particles(model, xt, n_particles, gen)
        else:
            ab = sample_abduction(model, xt, n_particles, gen)
        own = props.decode(ab.s.cpu().numpy().astype(np.float64))[node]
        target = props.to_standard(node, shifted_values(own, node, shift))
        do = {node: torch.as_tensor(target, dtype=ab.s.dtype, device=device)}
        imgs = ckpt.images.inverse(model.predict(ab, model.act(ab, do))).double().cpu().numpy()
        imgs = imgs.reshape((n_particles, n, *imgs.shape[1:]))
        finite = np.all(np.isfinite(imgs), axis=(2, 3, 4))
        count = finite.sum(axis=0)
        total = np.where(finite[:, :, None, None, None], imgs, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i : i + n] = total / np.where(count > 0, count, np.nan)[:, None, None, None]
    return out
