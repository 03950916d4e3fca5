"""One intervention of the deep SCM evaluation, computed as an independent task.

:func:`acie.deepscm.evaluation.evaluate` measures every relative intervention "shift this
galaxy's own value of ``node`` by ``shift``" on the same held-out galaxies: the model is
asked for ``do(node = abducted + shift)`` (its own abduction of the galaxy), the
simulator for ``do(node = true + shift)`` with every exogenous noise kept (so ``M* x 2``
is ``+log10 2`` for both, and the model's error on the factual ``M*`` is not charged to
the counterfactual). Each intervention needs only the engine, the simulated batch and
the factual abduction, so it is a task of its own: :func:`intervention_metrics` computes
it with a loaded engine, and :func:`intervention_task` does the same in any process from
an :class:`~acie.deepscm.worker_engine.EngineRef` (loaded once per worker). The task's
arithmetic is the in-process arithmetic (same chunks, one torch thread, seeded
bootstrap), so a report computed over workers has the same numbers.

The per-galaxy metrics are defined in :mod:`acie.deepscm.evaluation_metrics`; the
realism measures in :mod:`acie.deepscm.realism`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from acie.deepscm import evaluation_metrics as em
from acie.deepscm.worker_engine import EngineRef, engine_for

if TYPE_CHECKING:
    from acie.deepscm.engine import CounterfactualEngine
    from acie.deepscm.predictors import PropertyPredictor
    from acie.galaxy.batch import GalaxyBatch
    from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "QUENCH_DROP_DEX",
    "EvaluationContext",
    "InterventionMetrics",
    "intervention_metrics",
    "intervention_task",
    "run_counterfactuals",
    "shifted_values",
    "star_forming",
]

#: A drop of log SFR below this [dex] counts as quenching.
QUENCH_DROP_DEX = -0.3


def shifted_values(values: np.ndarray, node: str, shift: float) -> np.ndarray:
    """``values + shift`` clipped into the node's validity range (from the range edge by 1e-6)."""
    from acie.galaxy.properties import RANGES

    r = RANGES[node]
    return np.clip(np.asarray(values, dtype=np.float64) + shift, r.low + 1e-6, r.high - 1e-6)


def star_forming(batch: GalaxyBatch) -> np.ndarray:
    """Whether each galaxy is on the star-forming branch in the simulator (n,) bool.

    Exact ground truth: the mass-quenching weight of the ``log_sfr`` mechanism
    (:mod:`acie.galaxy.mechanisms`), ``f_q(M*) < u_quench``, is below one half.
    """
    from acie.galaxy.relations import quenched_fraction_peng10

    f_q = quenched_fraction_peng10(np.asarray(batch.properties["log_stellar_mass"]))
    return np.asarray(f_q < np.asarray(batch.noise["quench"]), dtype=bool)


@dataclass
class InterventionMetrics:
    """Metrics of one relative intervention ``do(node = own value + shift)``.

    ``summaries`` maps a metric name to ``{"value", "se", "n"}`` (bootstrap standard
    error over galaxies); ``details`` holds JSON-ready extras (per-property tables,
    distributions). Units: pixel metrics in sky sigma, ``dlog_*`` in dex, colour in mag.
    """

    node: str
    shift: float
    n: int
    summaries: dict[str, dict[str, float]]
    details: dict[str, Any] = field(default_factory=dict)
    above_tolerance: int = 0

    def value(self, name: str) -> float:
        """The value of summary ``name`` (NaN when it was not measured)."""
        return float(self.summaries.get(name, {}).get("value", float("nan")))


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
    clean_factual : ndarray
        The noise-free factual images (for the core-noise metric).
    predictor : PropertyPredictor or None
        The independent property predictor (None: its metrics are left out).
    batch_size, n_examples : int
        Galaxies per counterfactual call; example images kept per intervention.
    tolerance : float
        Violation score [dex] above which a counterfactual counts in ``above_tolerance``.
    seed : int
        Seed of the bootstrap (and of the posterior-mean particles' draws).
    posterior_particles : int
        0 (default) or the particles of the posterior-mean counterfactual whose flux
        error is reported beside the point answer's
        (:mod:`acie.deepscm.evaluation_posterior`, midpoint-rule quench draws).
    """

    simulator: GalaxySimulator
    batch: GalaxyBatch
    factual: dict[str, np.ndarray]
    clean_factual: np.ndarray
    predictor: PropertyPredictor | None
    batch_size: int
    n_examples: int
    tolerance: float
    seed: int = 0
    posterior_particles: int = 0


def run_counterfactuals(
    engine: CounterfactualEngine,
    images: np.ndarray,
    ivs: Mapping[str, np.ndarray],
    batch_size: int,
    *,
    watermark: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Counterfactuals in chunks of ``batch_size``, unprojected (and unmarked by default).

    Returns (images, factual properties, counterfactual properties, violation scores).
    """
    outs, facts, cfs, ok = [], [], [], []
    for i in range(0, images.shape[0], batch_size):
        sl = slice(i, i + batch_size)
        r = engine.counterfactual(
            images[sl],
            {k: v[sl] for k, v in ivs.items()},
            watermark=watermark,
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


def _image_metrics(
    ctx: EvaluationContext, x: np.ndarray, model: np.ndarray, true: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Per-galaxy image metrics (name -> (n,)) and the flux-ratio distribution details."""
    batch = ctx.batch
    bands = list(batch.bands)
    r = bands.index("r") if "r" in bands else 0
    psf = np.asarray(batch.nuisances["psf_fwhm"], np.float64) / batch.pixel_scale
    dfm, dft = em.flux_delta(x, model, r), em.flux_delta(x, true, r)
    dsm, dst = em.size_delta(x, model, r, psf), em.size_delta(x, true, r, psf)
    per = {
        "dlog_flux_error": np.abs(dfm - dft),
        "dlog_size_error": np.abs(dsm - dst),
        "dlog_size_model": dsm,
        "dlog_size_truth": dst,
        "dlog_flux_model": dfm,
        "dlog_flux_truth": dft,
    }
    if "g" in bands and "r" in bands:
        g = bands.index("g")
        per["colour_error"] = np.abs(
            em.colour_delta(x, model, g, r) - em.colour_delta(x, true, g, r)
        )
    details = {}
    for who, d in (("model", dfm), ("truth", dft)):
        ratio = 10.0**d
        details[who] = {
            "median": float(np.nanmedian(ratio)),
            "p05": float(np.nanquantile(ratio, 0.05)),
            "p95": float(np.nanquantile(ratio, 0.95)),
            "dimmer_fraction": float(np.nanmean(ratio < 1.0)),
        }
    return per, {"flux_ratio": details}


def intervention_metrics(
    engine: CounterfactualEngine, ctx: EvaluationContext, node: str, shift: float
) -> tuple[InterventionMetrics, dict[str, np.ndarray]]:
    """The metrics of the relative ``do(node = own value + shift)`` and its example arrays."""
    from acie.galaxy.constraints import violation_score
    from acie.galaxy.properties import PROPERTY_NAMES, descendants

    batch, fact, n, seed = ctx.batch, ctx.factual, len(ctx.batch.images), ctx.seed
    x = np.asarray(batch.images, dtype=np.float32)
    sigma = np.asarray(engine.noise_sigma, dtype=np.float64)
    truth = {k: np.asarray(v, dtype=np.float64) for k, v in batch.properties.items()}
    true_target = shifted_values(truth[node], node, shift)
    model_target = shifted_values(fact[node], node, shift)  # the galaxy's own abducted value
    true_cf = ctx.simulator.counterfactual(batch, {node: true_target})
    xt = np.asarray(true_cf.images, dtype=np.float32)
    clean_cf = ctx.simulator.render(true_cf.properties, true_cf.nuisances, add_noise=False)
    model_img, _, cf_props, _ = run_counterfactuals(engine, x, {node: model_target}, ctx.batch_size)
    above = int(np.sum(np.asarray(violation_score(cf_props)) > ctx.tolerance))
    back_img, _, _, _ = run_counterfactuals(engine, model_img, {node: fact[node]}, ctx.batch_size)
    re_props, _ = engine.infer_properties(model_img)
    tcf = {k: np.asarray(v, np.float64) for k, v in true_cf.properties.items()}

    per, details = _image_metrics(ctx, x, model_img, xt)
    per["reversibility_changed_l1"] = em.l1_sigma(
        back_img, x, sigma, em.changed_pixels(x, xt, sigma)
    )
    core = em.core_mask(ctx.clean_factual, clean_cf, sigma)
    n_model = em.core_noise_rms(model_img, clean_cf, core, sigma)
    n_true = em.core_noise_rms(xt, clean_cf, core, sigma)
    n_fact = em.core_noise_rms(x, ctx.clean_factual, core, sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        per["core_noise_ratio"] = n_model / n_true
        per["core_noise_amplification_model"] = n_model / n_fact
        per["core_noise_amplification_truth"] = n_true / n_fact
    per["pixel_rms_model"] = np.sqrt(
        np.mean(((model_img - xt) / sigma[None, :, None, None]) ** 2, axis=(1, 2, 3))
    )
    per["pixel_rms_input"] = np.sqrt(
        np.mean(((x - xt) / sigma[None, :, None, None]) ** 2, axis=(1, 2, 3))
    )
    per["encoder_effectiveness_error"] = np.abs(re_props[node] - model_target)  # circular
    if node != "log_sfr" and "log_sfr" in descendants(node) and "log_sfr" in cf_props:
        sf = star_forming(batch)
        dsfr_m = cf_props["log_sfr"] - fact["log_sfr"]
        dsfr_t = tcf["log_sfr"] - truth["log_sfr"]
        spurious = (dsfr_m < QUENCH_DROP_DEX) & (dsfr_t >= QUENCH_DROP_DEX)
        per["spurious_quenching_rate"] = np.where(sf, spurious.astype(float), np.nan)
        per["true_quenching_rate"] = np.where(sf, (dsfr_t < QUENCH_DROP_DEX).astype(float), np.nan)
        per["dlog_sfr_model_sf"] = np.where(sf, dsfr_m, np.nan)
        per["dlog_sfr_truth_sf"] = np.where(sf, dsfr_t, np.nan)
    if ctx.predictor is not None:
        from acie.deepscm.realism import frechet_distance, power_spectrum_error

        p = ctx.predictor
        pm, pt, pf = p.predict(model_img), p.predict(xt), p.predict(x)
        if node in pm:
            per["predictor_effect_error"] = np.abs(pm[node] - pt[node])
            per["predictor_effect_model"] = pm[node] - pf[node]
            per["predictor_effect_truth"] = pt[node] - pf[node]
            per["predictor_error_on_truth"] = np.abs(pt[node] - tcf[node])
        details["predictor_property_error"] = {
            k: em.summary(np.abs(pm[k] - pt[k]), seed=seed) for k in pm
        }
        fm, ft, ff = p.features(model_img), p.features(xt), p.features(x)
        details["frechet_distance"] = {
            "model_vs_true_cf": frechet_distance(fm, ft),
            "input_vs_true_cf": frechet_distance(ff, ft),
        }
        per["power_spectrum_error"] = power_spectrum_error(model_img, xt)
    if ctx.posterior_particles:
        per["dlog_flux_error_posterior_mean"] = _posterior_mean_errors(engine, ctx, node, shift, xt)
    floor = _floor_summaries(ctx, node, true_target, xt, seed)
    stats = {k: "p95" if k.endswith("_p95") else "median" for k in per}
    summaries = {
        k: em.summary(v, "mean" if k.endswith("_rate") else stats[k], seed=seed)
        for k, v in per.items()
    }
    summaries["dlog_flux_error_p95"] = em.summary(per["dlog_flux_error"], "p95", seed=seed)
    if "dlog_flux_error_posterior_mean" in per:
        summaries["dlog_flux_error_posterior_mean_p95"] = em.summary(
            per["dlog_flux_error_posterior_mean"], "p95", seed=seed
        )
        details["posterior_mean"] = {"n_particles": ctx.posterior_particles, "draws": "midpoint"}
    for k in ("pixel_rms_model", "pixel_rms_input", "reversibility_changed_l1"):
        summaries[k] = em.summary(per[k], "mean", seed=seed)
    if floor:
        summaries.update(floor[0])
        details["identifiability_floor"] = floor[1]
    details["property_median_abs_error"] = {
        k: float(np.median(np.abs(cf_props[k] - tcf[k])))
        for k in PROPERTY_NAMES
        if k in cf_props and k in tcf
    }
    metrics = InterventionMetrics(
        node=node,
        shift=float(shift),
        n=n,
        summaries=summaries,
        details=details,
        above_tolerance=above,
    )
    examples = {
        "factual": x[: ctx.n_examples],
        "model": model_img[: ctx.n_examples],
        "true": xt[: ctx.n_examples],
        "dlog_flux_model": per["dlog_flux_model"],
        "dlog_flux_truth": per["dlog_flux_truth"],
    }
    return metrics, examples


def _posterior_mean_errors(
    engine: CounterfactualEngine, ctx: EvaluationContext, node: str, shift: float, xt: np.ndarray
) -> np.ndarray:
    """``|Δlog F|`` error (n,) [dex] of the posterior mean over ``ctx.posterior_particles``.

    The answer is the mean image of point abductions whose quench draws are the midpoint
    rule on their posterior (:func:`acie.deepscm.evaluation_posterior.posterior_mean_images`,
    ``midpoint``), i.e. the model's expected counterfactual flux, scored like the point
    answer.
    """
    from acie.deepscm.evaluation_posterior import posterior_mean_images

    x = np.asarray(ctx.batch.images, dtype=np.float32)
    bands = list(ctx.batch.bands)
    r = bands.index("r") if "r" in bands else 0
    mean = posterior_mean_images(
        engine,
        x,
        node,
        shift,
        ctx.posterior_particles,
        seed=ctx.seed,
        batch_size=ctx.batch_size,
        midpoint=True,
    )
    return np.abs(em.flux_delta(x, mean, r) - em.flux_delta(x, xt, r))


def _floor_summaries(
    ctx: EvaluationContext, node: str, true_target: np.ndarray, xt: np.ndarray, seed: int
) -> tuple[dict[str, dict[str, float]], dict[str, Any]] | None:
    """The identifiability floor of the flux error (:mod:`acie.deepscm.identifiability_floor`).

    Only where the unidentifiable quench draw matters: ``log_sfr`` is a strict
    descendant of ``node`` (elsewhere the oracle knows every exogenous noise and its
    counterfactual is exact). ``floor_dlog_flux_error`` (median) and ``…_p95`` are the
    smallest over the oracle's answers; the details name which answer gave each.
    """
    from acie.deepscm.identifiability_floor import floor_flux_errors
    from acie.galaxy.properties import descendants

    if node == "log_sfr" or "log_sfr" not in descendants(node):
        return None
    bands = list(ctx.batch.bands)
    band = bands.index("r") if "r" in bands else 0
    errors = floor_flux_errors(ctx.simulator, ctx.batch, {node: true_target}, xt, band)
    out: dict[str, dict[str, float]] = {}
    for k, v in errors.items():
        out[f"floor_dlog_flux_error_{k}"] = em.summary(v, "median", seed=seed)
        out[f"floor_dlog_flux_error_{k}_p95"] = em.summary(v, "p95", seed=seed)
    details: dict[str, Any] = {}
    for stat, tail in (("median", ""), ("p95", "_p95")):
        best = min(errors, key=lambda k: out[f"floor_dlog_flux_error_{k}{tail}"]["value"])
        out[f"floor_dlog_flux_error{tail}"] = out[f"floor_dlog_flux_error_{best}{tail}"]
        details[f"best_for_{stat}"] = best
    return out, details


def intervention_task(
    item: tuple[str, float], *, engine: EngineRef, context: EvaluationContext
) -> tuple[InterventionMetrics, dict[str, np.ndarray]]:
    """:func:`intervention_metrics` of ``item = (node, shift)`` in any process.

    The engine is :func:`~acie.deepscm.worker_engine.engine_for` ``engine`` (loaded
    once per process); ``context`` is shared by all the interventions of a run.
    """
    node, shift = item
    return intervention_metrics(engine_for(engine), context, node, shift)
