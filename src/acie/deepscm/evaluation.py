"""Evaluation of a trained deep SCM against the simulator's exact counterfactuals.

For held-out galaxies simulated by :class:`acie.galaxy.simulator.GalaxySimulator`
(seeded), each *relative* intervention "shift this galaxy's own ``node`` by ``shift``"
(``M* x 2`` is ``+log10 2`` dex) is answered twice: by the model, from the image alone,
at its own abducted value plus the shift, and by the simulator, at the true value plus
the shift with every exogenous noise kept (including the pixel-noise seed). Only the
engine's public API is used, so any checkpoint plugs in. Per intervention
(:mod:`acie.deepscm.evaluation_tasks`, metrics in :mod:`acie.deepscm.evaluation_metrics`):

* per-galaxy errors of the image-measured ``Δlog flux``, ``Δlog R_e`` (median, 95th
  percentile) and ``Δ(g − r)``, model vs truth;
* the spurious-quenching rate: star-forming galaxies (exact simulator truth) whose
  counterfactual ``Δlog SFR < −0.3`` where the truth's is not;
* reversibility (do, then undo to the abducted value) as the L1 on the changed pixels;
* the core-noise ratio (high-passed pixel noise in the brightened core, model vs truth);
* effectiveness by the *independent* predictor (:mod:`acie.deepscm.predictors`), not
  the model's own encoder (whose numbers are reported too, marked circular);
* realism: the Fréchet distance of the predictor's penultimate features, model vs true
  counterfactual images, and the high-frequency radially averaged power-spectrum error
  (:mod:`acie.deepscm.realism`).

Once per model: abduction accuracy per property, composition after 1 and 10 null
cycles through the served path (watermark on, so an accumulating mark would show), the
watermark's detection rates and, optionally, latency and throughput with the physics
check on. Every statistic carries a bootstrap standard error over galaxies.
:data:`GOALS` are the issue's targets; :func:`goal_status` judges a report against them
(:mod:`acie.deepscm.evaluation_goals`, with the identifiability floors).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from acie.deepscm import evaluation_metrics as em
from acie.deepscm.engine import CounterfactualEngine
from acie.deepscm.evaluation_goals import GOAL_FLOORS, GOALS, goal_status
from acie.deepscm.evaluation_tasks import (
    EvaluationContext,
    InterventionMetrics,
    intervention_metrics,
    intervention_task,
    run_counterfactuals,
    shifted_values,
)
from acie.deepscm.particles import check_particles
from acie.deepscm.watermark import measure_rates
from acie.deepscm.worker_engine import EngineRef
from acie.physics.constraints import DEFAULT_TOLERANCE

if TYPE_CHECKING:
    from acie.deepscm.predictors import PropertyPredictor
    from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "DEFAULT_INTERVENTIONS",
    "GOALS",
    "GOAL_FLOORS",
    "EvaluationReport",
    "InterventionMetrics",
    "evaluate",
    "goal_status",
    "report_from_dict",
    "shifted_values",
]

#: Relative interventions of the standard evaluation: node -> shift of the galaxy's own
#: value (in the node's unit). ``log_stellar_mass`` first: "M* x 2" is +log10(2) dex.
DEFAULT_INTERVENTIONS: dict[str, float] = {
    "log_stellar_mass": float(np.log10(2.0)),
    "log_halo_mass": +0.5,
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
    abduction: dict[str, dict[str, float]]  # property -> summary of |abducted - truth|
    composition: dict[str, dict[str, float]]  # "1", "10" null cycles -> L1 summary [sigma]
    interventions: list[InterventionMetrics]
    watermark: dict[str, object]
    mean_confidence: float
    predictor: dict[str, Any] | None = None  # the independent predictor's own accuracy
    speed: dict[str, float] | None = None
    label: str = ""
    examples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def intervention(self, node: str) -> InterventionMetrics | None:
        """The metrics of the intervention on ``node`` (None when not evaluated)."""
        return next((m for m in self.interventions if m.node == node), None)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (without the example arrays), with the units of each field."""
        return {
            "label": self.label,
            "model_version": self.model_version,
            "n_galaxies": self.n_galaxies,
            "seed": self.seed,
            "units": {
                "pixel": "sky-noise sigma of the band",
                "dlog": "dex",
                "colour": "mag",
                "property": "unit of the node (acie.galaxy.properties.UNITS)",
                "summary": "value with its bootstrap standard error (se) over n galaxies",
            },
            "abduction": self.abduction,
            "composition": self.composition,
            "mean_confidence": self.mean_confidence,
            "interventions": [
                {
                    "node": m.node,
                    "shift": m.shift,
                    "n": m.n,
                    "above_tolerance": m.above_tolerance,
                    "summaries": m.summaries,
                    "details": m.details,
                }
                for m in self.interventions
            ],
            "predictor": self.predictor,
            "speed": self.speed,
            "watermark": self.watermark,
            "goals": goal_status(self),
        }


def report_from_dict(d: Mapping[str, Any]) -> EvaluationReport:
    """An :class:`EvaluationReport` back from one entry of ``report.json`` (no example arrays)."""
    return EvaluationReport(
        model_version=str(d["model_version"]),
        n_galaxies=int(d["n_galaxies"]),
        seed=int(d["seed"]),
        abduction=dict(d["abduction"]),
        composition=dict(d["composition"]),
        interventions=[
            InterventionMetrics(
                node=m["node"],
                shift=float(m["shift"]),
                n=int(m["n"]),
                summaries=dict(m["summaries"]),
                details=dict(m.get("details", {})),
                above_tolerance=int(m.get("above_tolerance", 0)),
            )
            for m in d["interventions"]
        ],
        watermark=dict(d.get("watermark", {})),
        mean_confidence=float(d["mean_confidence"]),
        predictor=d.get("predictor"),
        speed=d.get("speed"),
        label=str(d.get("name") or d.get("label") or ""),
    )


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
    predictor: PropertyPredictor | None = None,
    null_cycles: int = 10,
    cycle_galaxies: int = 300,
    measure_speed: bool = False,
    label: str = "",
    map_tasks: Callable[..., Iterable[Any]] | None = None,
    engine_ref: EngineRef | None = None,
    posterior_particles: int = 0,
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
        Node -> shift of each galaxy's own value, clipped to the node's validity range
        (default :data:`DEFAULT_INTERVENTIONS`).
    physics_tolerance : float
        Violation score [dex] above which an unprojected counterfactual counts in
        ``above_tolerance`` (default 0.05, the ``PHYSICS_TOLERANCE`` setting's default).
    predictor : PropertyPredictor, optional
        The independent predictor of :mod:`acie.deepscm.predictors` (for images of
        ``engine.image_shape``); without it the predictor and realism metrics are left out.
    null_cycles, cycle_galaxies : int
        Composition is measured after 1 and after ``null_cycles`` null interventions, on
        the first ``cycle_galaxies`` galaxies (its standard error is already small there).
    measure_speed : bool
        Also time one-image latency (p95 of 50 calls) and batched throughput (256
        images), physics check on (wall-clock numbers: they differ from run to run).
    map_tasks : callable, optional
        ``map_tasks(fn, items, **common)`` yielding results in item order (e.g. an
        :class:`acie.compute.executor.Executor`): each intervention is then a task
        (:func:`~acie.deepscm.evaluation_tasks.intervention_task`) that loads the engine
        once per worker from its checkpoint. The numbers are the same as without it.
    engine_ref : EngineRef, optional
        How workers load the engine (default: ``engine``'s checkpoint path).
    posterior_particles : int
        0 (default) or the particles of the posterior-mean counterfactual whose
        ``dlog_flux_error_posterior_mean`` (median, ``_p95``) is reported beside the point
        answer's (:mod:`acie.deepscm.evaluation_posterior`).
    """
    interventions = dict(interventions or DEFAULT_INTERVENTIONS)
    batch = simulator.sample(n, seed=seed)
    x = np.asarray(batch.images, dtype=np.float32)
    sigma = np.asarray(engine.noise_sigma, dtype=np.float64)
    truth = {k: np.asarray(v, dtype=np.float64) for k, v in batch.properties.items()}
    clean = simulator.render(batch.properties, batch.nuisances, add_noise=False)

    _, fact, _, _ = run_counterfactuals(engine, x, {}, batch_size)
    abduction = {
        k: {
            **em.summary(np.abs(fact[k] - truth[k]), seed=seed),
            "bias": float(np.median(fact[k] - truth[k])),
        }
        for k in engine.property_names
        if k in truth
    }
    k = min(n, cycle_galaxies)
    composition = _composition(engine, x[:k], clean[:k], sigma, batch_size, null_cycles, seed)
    _, conf = engine.infer_properties(x)
    ctx = EvaluationContext(
        simulator=simulator,
        batch=batch,
        factual=fact,
        clean_factual=clean,
        predictor=predictor,
        batch_size=batch_size,
        n_examples=n_examples,
        tolerance=float(physics_tolerance),
        seed=seed,
        posterior_particles=check_particles(posterior_particles),
    )
    items = list(interventions.items())
    if map_tasks is None:
        per_node = [intervention_metrics(engine, ctx, node, shift) for node, shift in items]
    else:
        ref = engine_ref or EngineRef.of(engine)
        per_node = list(map_tasks(intervention_task, items, engine=ref, context=ctx))
    results = [metrics for metrics, _ in per_node]
    examples = {node: ex for (node, _), (_, ex) in zip(items, per_node, strict=True)}

    pred_acc = None
    if predictor is not None:
        from acie.deepscm.realism import predictor_accuracy

        pred_acc = {"held_out_factual": predictor_accuracy(predictor, x, truth)}
    wm = engine.watermark
    # model outputs = real counterfactuals (do(M* x 2) of each galaxy's own abducted mass);
    # a null counterfactual returns its input to ~1e-4 sigma, i.e. a simulated image again
    out = engine.counterfactual(
        x[: min(n, 200)],
        {"log_stellar_mass": {"factor": 2.0}},
        watermark=False,
        per_galaxy=True,
    )
    generated = out.images[out.status != "refused"]
    rates_sim = measure_rates(wm, x[:200], sigma, noise_levels=noise_levels, seed=seed)
    rates_gen = measure_rates(wm, generated, sigma, noise_levels=noise_levels, seed=seed + 1)
    return EvaluationReport(
        model_version=engine.model_version,
        n_galaxies=n,
        seed=seed,
        abduction=abduction,
        composition=composition,
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
        predictor=pred_acc,
        speed=_speed(engine, x, physics_tolerance) if measure_speed else None,
        label=label,
        examples=examples,
    )


def _composition(
    engine: CounterfactualEngine,
    x: np.ndarray,
    clean: np.ndarray,
    sigma: np.ndarray,
    batch_size: int,
    cycles: int,
    seed: int,
) -> dict[str, dict[str, float]]:
    """L1 [sigma] on the galaxy's pixels (noise-free factual > 1 sigma) after k null cycles.

    ``"1"`` and ``"<cycles>"``: the model alone (watermark off); ``"served_1"`` and
    ``"served_<cycles>"``: the served path (watermark on), where a mark that accumulated
    or was carried through as pixel noise would show as growth from 1 to ``cycles``.
    """
    mask = clean > sigma[None, :, None, None]
    out = {}
    for marked, tag in ((False, ""), (True, "served_")):
        cur = x
        for k in range(1, max(cycles, 1) + 1):
            cur, _, _, _ = run_counterfactuals(engine, cur, {}, batch_size, watermark=marked)
            if k in (1, cycles):
                out[f"{tag}{k}"] = em.summary(em.l1_sigma(cur, x, sigma, mask), "mean", seed=seed)
    return out


def _speed(engine: CounterfactualEngine, x: np.ndarray, tolerance: float) -> dict[str, float]:
    """One-image p95 latency [ms] (50 calls) and 256-image throughput [images/s].

    do(M* x 2) at the abducted value, with the physics check and projection on at
    ``tolerance`` (galaxies over it projected or refused one by one, ``per_galaxy``).
    """
    names = engine.property_names
    node = "log_stellar_mass" if "log_stellar_mass" in names else names[0]
    b = x[: min(256, len(x))]
    target = shifted_values(engine.infer_properties(b)[0][node], node, float(np.log10(2.0)))
    engine.counterfactual(b[:1], {node: target[:1]}, physics_tolerance=tolerance, per_galaxy=True)
    lat = []
    for i in range(50):
        j = i % len(b)
        t0 = time.perf_counter()
        engine.counterfactual(
            b[j : j + 1], {node: target[j : j + 1]}, physics_tolerance=tolerance, per_galaxy=True
        )
        lat.append((time.perf_counter() - t0) * 1e3)
    t0 = time.perf_counter()
    engine.counterfactual(b, {node: target}, physics_tolerance=tolerance, per_galaxy=True)
    dt = time.perf_counter() - t0
    return {
        "latency_p95_ms": float(np.percentile(lat, 95)),
        "latency_median_ms": float(np.median(lat)),
        "throughput": float(len(b) / dt),
        "batch": float(len(b)),
    }
