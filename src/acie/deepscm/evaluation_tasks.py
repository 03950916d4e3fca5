"""One intervention of the deep SCM evaluation, computed as an independent task.

:func:`acie.deepscm.evaluation.evaluate` measures every intervention ``do(node =
factual + shift)`` on the same held-out galaxies. Each intervention needs only the
engine, the simulated batch and the factual abduction, so it is a task of its own:
:func:`intervention_metrics` computes it with a loaded engine, and
:func:`intervention_task` does the same in any process from an
:class:`~acie.deepscm.worker_engine.EngineRef` (the engine is loaded once per worker,
never shipped). The task's arithmetic is the in-process arithmetic (same chunks, one
torch thread), so a report computed over workers has the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from acie.deepscm.worker_engine import EngineRef, engine_for

if TYPE_CHECKING:
    from acie.deepscm.engine import CounterfactualEngine
    from acie.galaxy.batch import GalaxyBatch
    from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "EvaluationContext",
    "InterventionMetrics",
    "intervention_metrics",
    "intervention_task",
    "run_counterfactuals",
    "shifted_values",
]


def shifted_values(values: np.ndarray, node: str, shift: float) -> np.ndarray:
    """``values + shift`` clipped into the node's validity range (from the range edge by 1e-6)."""
    from acie.galaxy.properties import RANGES

    r = RANGES[node]
    return np.clip(np.asarray(values, dtype=np.float64) + shift, r.low + 1e-6, r.high - 1e-6)


@dataclass
class InterventionMetrics:
    """Metrics of one intervention ``do(node = factual + shift)``."""

    node: str
    shift: float
    n: int
    effectiveness_mae: float  # |re-abducted node - intended| [node unit]
    effectiveness_baseline_mae: float  # |abducted node on factual - intended| [node unit]
    reversibility_rms: float  # [noise sigma]
    minimality_mae: dict[str, float]  # non-descendant -> MAE [node unit]
    minimality_rel: float  # mean over non-descendants of MAE / truth sd
    pixel_rms_model: float  # model cf vs true cf [noise sigma]
    pixel_rms_baseline: float  # input vs true cf [noise sigma]
    property_mae: dict[str, float]  # model cf props vs true cf props [node unit]
    measured: dict[str, dict[str, float]] = field(default_factory=dict)
    above_tolerance: int = 0  # counterfactuals whose violation score > tolerance

    @property
    def pixel_ratio(self) -> float:
        """Model pixel RMS over the do-nothing baseline's (below 1 beats the baseline)."""
        return self.pixel_rms_model / self.pixel_rms_baseline if self.pixel_rms_baseline else np.nan


@dataclass(frozen=True)
class EvaluationContext:
    """What every intervention of one evaluation shares (pickled once per task or worker).

    Attributes
    ----------
    simulator : GalaxySimulator
        Renders the true counterfactuals.
    batch : GalaxyBatch
        The held-out galaxies (their images are the model's input).
    factual : dict of str to ndarray
        The model's abducted factual properties of ``batch``.
    measured_input : dict of str to ndarray or None
        Image-based measurements of the input images (the do-nothing baseline).
    batch_size, n_examples : int
        Galaxies per counterfactual call; example images kept per intervention.
    tolerance : float
        Violation score [dex] above which a counterfactual counts in ``above_tolerance``.
    """

    simulator: GalaxySimulator
    batch: GalaxyBatch
    factual: dict[str, np.ndarray]
    measured_input: dict[str, np.ndarray] | None
    batch_size: int
    n_examples: int
    tolerance: float


def rms_sigma(a: np.ndarray, b: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Per-galaxy RMS difference (n,) in units of each band's noise sigma."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) / sigma[None, :, None, None]
    return np.sqrt(np.mean(d**2, axis=(1, 2, 3)))


def measure(images: np.ndarray, batch: GalaxyBatch) -> dict[str, np.ndarray] | None:
    """Image-based luminosity and size (:func:`acie.galaxy.measure.measure_properties`).

    Distances and PSF come from the simulated ``batch`` (the same for factual and
    counterfactual galaxies); ``None`` when the images have no r band.
    """
    from acie.galaxy.measure import measure_properties

    if "r" not in batch.bands:
        return None
    m = measure_properties(
        images,
        bands=batch.bands,
        pixel_scale=batch.pixel_scale,
        luminosity_distance=batch.luminosity_distance,
        angular_diameter_distance=batch.angular_diameter_distance,
        psf_fwhm=batch.nuisances["psf_fwhm"],
    )
    return {k: np.asarray(m[k], dtype=np.float64) for k in ("log_luminosity", "log_size")}


def run_counterfactuals(
    engine: CounterfactualEngine,
    images: np.ndarray,
    ivs: Mapping[str, np.ndarray],
    batch_size: int,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Counterfactuals in chunks of ``batch_size``, unprojected and unmarked.

    Returns (images, factual properties, counterfactual properties, violation scores).
    """
    outs, facts, cfs, ok = [], [], [], []
    for i in range(0, images.shape[0], batch_size):
        sl = slice(i, i + batch_size)
        r = engine.counterfactual(
            images[sl],
            {k: v[sl] for k, v in ivs.items()},
            watermark=False,
            physics_steps=0,
            physics_tolerance=1e9,
        )
        outs.append(r.images)
        facts.append(r.factual_properties)
        cfs.append(r.counterfactual_properties)
        ok.append(r.violation_score)

    def cat(ds: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {k: np.concatenate([d[k] for d in ds]) for k in ds[0]}

    return np.concatenate(outs), cat(facts), cat(cfs), np.concatenate(ok)


def intervention_metrics(
    engine: CounterfactualEngine, ctx: EvaluationContext, node: str, shift: float
) -> tuple[InterventionMetrics, dict[str, np.ndarray]]:
    """The metrics of ``do(node = factual + shift)`` and its example arrays for the plots."""
    from acie.galaxy.constraints import violation_score
    from acie.galaxy.properties import PROPERTY_NAMES, descendants

    batch, fact, n = ctx.batch, ctx.factual, len(ctx.batch.images)
    x = np.asarray(batch.images, dtype=np.float32)
    sigma = np.asarray(engine.noise_sigma, dtype=np.float64)
    truth = {k: np.asarray(v, dtype=np.float64) for k, v in batch.properties.items()}
    target = shifted_values(truth[node], node, shift)
    true_cf = ctx.simulator.counterfactual(batch, {node: target})
    xt = np.asarray(true_cf.images, dtype=np.float32)
    model_img, _, cf_props, _ = run_counterfactuals(engine, x, {node: target}, ctx.batch_size)
    above = int(np.sum(np.asarray(violation_score(cf_props)) > ctx.tolerance))
    re_props, _ = engine.infer_properties(model_img)
    back_img, _, _, _ = run_counterfactuals(engine, model_img, {node: fact[node]}, ctx.batch_size)
    non_desc = [k for k in engine.property_names if k != node and k not in descendants(node)]
    measured = {}
    m_input = ctx.measured_input
    m_model, m_true = measure(model_img, true_cf), measure(xt, true_cf)
    if m_model is not None and m_true is not None and m_input is not None:
        for k in m_model:
            measured[k] = {
                "mae_model_vs_true_cf": float(np.nanmean(np.abs(m_model[k] - m_true[k]))),
                "mae_input_vs_true_cf": float(np.nanmean(np.abs(m_input[k] - m_true[k]))),
            }
    tcf = {k: np.asarray(v, np.float64) for k, v in true_cf.properties.items()}
    metrics = InterventionMetrics(
        node=node,
        shift=float(shift),
        n=n,
        effectiveness_mae=float(np.mean(np.abs(re_props[node] - target))),
        effectiveness_baseline_mae=float(np.mean(np.abs(fact[node] - target))),
        reversibility_rms=float(np.mean(rms_sigma(back_img, x, sigma))),
        minimality_mae={k: float(np.mean(np.abs(re_props[k] - fact[k]))) for k in non_desc},
        minimality_rel=float(
            np.mean([np.mean(np.abs(re_props[k] - fact[k])) / np.std(truth[k]) for k in non_desc])
        )
        if non_desc
        else float("nan"),
        pixel_rms_model=float(np.mean(rms_sigma(model_img, xt, sigma))),
        pixel_rms_baseline=float(np.mean(rms_sigma(x, xt, sigma))),
        property_mae={
            k: float(np.mean(np.abs(cf_props[k] - tcf[k])))
            for k in PROPERTY_NAMES
            if k in cf_props and k in tcf
        },
        measured=measured,
        above_tolerance=above,
    )
    examples = {
        "factual": x[: ctx.n_examples],
        "model": model_img[: ctx.n_examples],
        "true": xt[: ctx.n_examples],
        "intended": target[: ctx.n_examples],
        "re_abducted": re_props[node],
        "target_all": target,
    }
    return metrics, examples


def intervention_task(
    item: tuple[str, float], *, engine: EngineRef, context: EvaluationContext
) -> tuple[InterventionMetrics, dict[str, np.ndarray]]:
    """:func:`intervention_metrics` of ``item = (node, shift)`` in any process.

    The engine is :func:`~acie.deepscm.worker_engine.engine_for` ``engine`` (loaded
    once per process); ``context`` is shared by all the interventions of a run.
    """
    node, shift = item
    return intervention_metrics(engine_for(engine), context, node, shift)
