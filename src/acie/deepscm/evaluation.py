"""Evaluation of a trained deep SCM against the simulator's exact counterfactuals.

For held-out galaxies simulated by :class:`acie.galaxy.simulator.GalaxySimulator`
(seeded), each intervention ``do(node = value)`` is answered twice: by the model
(from the image alone) and by the simulator (same exogenous noise, including the
pixel-noise seed, re-rendered). The metrics follow Monteiro et al. (2023, ICLR,
"Measuring axiomatic soundness of counterfactual image models"):

effectiveness
    Did the intervention take? The intervened property, re-abducted by the model's
    own property posterior from the counterfactual image, vs the intended value
    (MAE, in the node's unit); and, model-independently, image-based measurements
    (:mod:`acie.galaxy.measure`, e.g. flux -> luminosity, half-light radius -> size)
    of the model's counterfactual vs of the true counterfactual.
composition
    The null intervention must return the input: max |x' - x| [noise sigma]. Exact
    by construction of the abduction (pixel noise is abducted); the decoder's own
    reconstruction error is reported beside it as a diagnostic.
reversibility
    ``do(node = v)`` then ``do(node = v_factual)`` on the result must return the input:
    RMS pixel difference [noise sigma].
minimality
    Properties that are not descendants of the intervened node must not change:
    MAE of their re-abducted values between counterfactual and factual image (per
    node, and averaged over nodes in units of each node's spread in the held-out set).
pixel error
    RMS difference model vs true counterfactual [noise sigma], next to the RMS
    difference input vs true counterfactual (the "change nothing" baseline); a ratio
    below 1 means the model moved the image toward the truth.
property error
    Counterfactual properties from the learned mechanisms vs the simulator's true
    counterfactual properties (MAE per node, in the node's unit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from acie.deepscm.engine import CounterfactualEngine
from acie.deepscm.evaluation_tasks import (
    EvaluationContext,
    InterventionMetrics,
    intervention_metrics,
    intervention_task,
    measure,
    rms_sigma,
    run_counterfactuals,
    shifted_values,
)
from acie.deepscm.watermark import measure_rates
from acie.deepscm.worker_engine import EngineRef
from acie.physics.constraints import DEFAULT_TOLERANCE

if TYPE_CHECKING:
    from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "DEFAULT_INTERVENTIONS",
    "EvaluationReport",
    "InterventionMetrics",
    "evaluate",
    "shifted_values",
]

#: Interventions of the standard evaluation: node -> shift (in the node's unit).
DEFAULT_INTERVENTIONS: dict[str, float] = {
    "log_halo_mass": +0.5,
    "log_stellar_mass": +0.3,  # "doubled stellar mass" is +0.301 dex
    "log_sfr": -1.0,
    "log_size": +0.2,
    "age": +3.0,
}


@dataclass
class EvaluationReport:
    """Everything :func:`evaluate` measured, plus arrays for the plots."""

    model_version: str
    n_galaxies: int
    seed: int
    composition_max_abs: float  # [noise sigma]
    reconstruction_rms: float  # decoder-only reconstruction [noise sigma]
    abduction_mae: dict[str, float]  # q(s|x) vs true factual properties [node unit]
    interventions: list[InterventionMetrics]
    watermark: dict[str, object]
    mean_confidence: float
    examples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (without the example arrays), with the units of each field."""
        return {
            "model_version": self.model_version,
            "n_galaxies": self.n_galaxies,
            "seed": self.seed,
            "units": {
                "pixel": "noise sigma of the band",
                "property": "unit of the node (acie.galaxy.properties.UNITS)",
            },
            "composition_max_abs": self.composition_max_abs,
            "reconstruction_rms": self.reconstruction_rms,
            "abduction_mae": self.abduction_mae,
            "mean_confidence": self.mean_confidence,
            "interventions": [
                {**{k: v for k, v in vars(m).items()}, "pixel_ratio": m.pixel_ratio}
                for m in self.interventions
            ],
            "watermark": self.watermark,
        }


def evaluate(
    engine: CounterfactualEngine,
    simulator: GalaxySimulator,
    *,
    n: int = 200,
    seed: int = 12345,
    interventions: Mapping[str, float] | None = None,
    batch_size: int = 100,
    n_examples: int = 6,
    noise_levels: Sequence[float] = (0.0, 1.0, 2.0, 4.0, 8.0),
    physics_tolerance: float = DEFAULT_TOLERANCE,
    map_tasks: Callable[..., Iterable[Any]] | None = None,
    engine_ref: EngineRef | None = None,
) -> EvaluationReport:
    """Evaluate ``engine`` against ``simulator``'s exact counterfactuals.

    Parameters
    ----------
    engine : CounterfactualEngine
    simulator : GalaxySimulator
        Must render images of ``engine.image_shape``.
    n : int
        Held-out galaxies (simulated with ``seed``; use a seed not used for training).
    interventions : mapping of str to float, optional
        Node -> shift added to each galaxy's true factual value, clipped to the node's
        validity range (default :data:`DEFAULT_INTERVENTIONS`).
    physics_tolerance : float
        Violation score [dex] above which an unprojected counterfactual counts in
        ``above_tolerance`` (default 0.05, the ``PHYSICS_TOLERANCE`` setting's default).
    map_tasks : callable, optional
        ``map_tasks(fn, items, **common)`` yielding results in item order (e.g. an
        :class:`acie.compute.executor.Executor`): each intervention is then a task
        (:func:`~acie.deepscm.evaluation_tasks.intervention_task`) that loads the engine
        once per worker from its checkpoint. The numbers are the same as without it.
    engine_ref : EngineRef, optional
        How workers load the engine (default: ``engine``'s checkpoint path, which
        remote workers must see; ``EngineRef.of(engine, shipped=True)`` names the
        shipped model of the workers' own installation).
    """
    interventions = dict(interventions or DEFAULT_INTERVENTIONS)
    batch = simulator.sample(n, seed=seed)
    x = np.asarray(batch.images, dtype=np.float32)
    sigma = np.asarray(engine.noise_sigma, dtype=np.float64)
    truth = {k: np.asarray(v, dtype=np.float64) for k, v in batch.properties.items()}

    null_img, fact, _, _ = run_counterfactuals(engine, x, {}, batch_size)
    composition = float(np.max(np.abs(null_img - x) / sigma[None, :, None, None]))
    abduction_mae = {k: float(np.mean(np.abs(fact[k] - truth[k]))) for k in engine.property_names}
    _, conf = engine.infer_properties(x)
    recon = _reconstruction_rms(engine, x, sigma)
    ctx = EvaluationContext(
        simulator=simulator,
        batch=batch,
        factual=fact,
        measured_input=measure(x, batch),  # the do-nothing baseline's measured properties
        batch_size=batch_size,
        n_examples=n_examples,
        tolerance=float(physics_tolerance),
    )
    items = list(interventions.items())
    if map_tasks is None:
        per_node = [intervention_metrics(engine, ctx, node, shift) for node, shift in items]
    else:
        ref = engine_ref or EngineRef.of(engine)
        per_node = list(map_tasks(intervention_task, items, engine=ref, context=ctx))
    results = [metrics for metrics, _ in per_node]
    examples = {node: ex for (node, _), (_, ex) in zip(items, per_node, strict=True)}

    wm = engine.watermark
    generated = engine.counterfactual(x[: min(n, 200)], {}, watermark=False).images
    rates_sim = measure_rates(wm, x, sigma, noise_levels=noise_levels, seed=seed)
    rates_gen = measure_rates(wm, generated, sigma, noise_levels=noise_levels, seed=seed + 1)
    return EvaluationReport(
        model_version=engine.model_version,
        n_galaxies=n,
        seed=seed,
        composition_max_abs=composition,
        reconstruction_rms=recon,
        abduction_mae=abduction_mae,
        interventions=results,
        watermark={
            "simulated_images": rates_sim.to_dict(),
            "model_outputs": rates_gen.to_dict(),
            "threshold": wm.threshold,
            "strength": wm.strength,
            "n_coefficients": wm.n_coefficients,
            "band": list(wm.band),
        },
        mean_confidence=float(np.mean(conf)),
        examples=examples,
    )


def _reconstruction_rms(engine: CounterfactualEngine, x: np.ndarray, sigma: np.ndarray) -> float:
    """Decoder-only reconstruction ``mu(z_hat, s_hat)`` vs input [noise sigma]."""
    import torch

    ck = engine._ckpt
    dev = torch.device(engine.device)
    with torch.no_grad():
        xt = ck.images.forward(torch.from_numpy(x).to(dev))
        ab = ck.model.abduct(xt)
        rec = ck.images.inverse(ab.x - ab.residual).cpu().numpy()
    return float(np.mean(rms_sigma(rec, x, sigma)))
