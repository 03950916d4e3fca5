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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from acie.deepscm.engine import CounterfactualEngine
from acie.deepscm.watermark import measure_rates
from acie.physics.constraints import DEFAULT_TOLERANCE

if TYPE_CHECKING:
    from acie.galaxy.batch import GalaxyBatch
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


def _rms_sigma(a: np.ndarray, b: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Per-galaxy RMS difference (n,) in units of each band's noise sigma."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) / sigma[None, :, None, None]
    return np.sqrt(np.mean(d**2, axis=(1, 2, 3)))


def _measure(images: np.ndarray, batch: GalaxyBatch) -> dict[str, np.ndarray] | None:
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
    """
    from acie.galaxy.properties import PROPERTY_NAMES, descendants

    interventions = dict(interventions or DEFAULT_INTERVENTIONS)
    batch = simulator.sample(n, seed=seed)
    x = np.asarray(batch.images, dtype=np.float32)
    sigma = np.asarray(engine.noise_sigma, dtype=np.float64)
    truth = {k: np.asarray(v, dtype=np.float64) for k, v in batch.properties.items()}

    def run(images: np.ndarray, ivs: Mapping[str, np.ndarray]):  # chunked, no watermark
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
        cat = lambda ds: {k: np.concatenate([d[k] for d in ds]) for k in ds[0]}  # noqa: E731
        return np.concatenate(outs), cat(facts), cat(cfs), np.concatenate(ok)

    null_img, fact, _, _ = run(x, {})
    composition = float(np.max(np.abs(null_img - x) / sigma[None, :, None, None]))
    abduction_mae = {k: float(np.mean(np.abs(fact[k] - truth[k]))) for k in engine.property_names}
    _, conf = engine.infer_properties(x)
    recon = _reconstruction_rms(engine, x, sigma)
    m_input = _measure(x, batch)  # the do-nothing baseline's measured properties

    from acie.galaxy.constraints import violation_score

    tolerance = float(physics_tolerance)
    results, examples = [], {}
    for node, shift in interventions.items():
        target = shifted_values(truth[node], node, shift)
        true_cf = simulator.counterfactual(batch, {node: target})
        xt = np.asarray(true_cf.images, dtype=np.float32)
        model_img, _, cf_props, _ = run(x, {node: target})
        above = int(np.sum(np.asarray(violation_score(cf_props)) > tolerance))
        re_props, _ = engine.infer_properties(model_img)
        back_img, _, _, _ = run(model_img, {node: fact[node]})
        non_desc = [k for k in engine.property_names if k != node and k not in descendants(node)]
        measured = {}
        m_model, m_true = _measure(model_img, true_cf), _measure(xt, true_cf)
        if m_model is not None and m_true is not None and m_input is not None:
            for k in m_model:
                measured[k] = {
                    "mae_model_vs_true_cf": float(np.nanmean(np.abs(m_model[k] - m_true[k]))),
                    "mae_input_vs_true_cf": float(np.nanmean(np.abs(m_input[k] - m_true[k]))),
                }
        tcf = {k: np.asarray(v, np.float64) for k, v in true_cf.properties.items()}
        results.append(
            InterventionMetrics(
                node=node,
                shift=float(shift),
                n=n,
                effectiveness_mae=float(np.mean(np.abs(re_props[node] - target))),
                effectiveness_baseline_mae=float(np.mean(np.abs(fact[node] - target))),
                reversibility_rms=float(np.mean(_rms_sigma(back_img, x, sigma))),
                minimality_mae={k: float(np.mean(np.abs(re_props[k] - fact[k]))) for k in non_desc},
                minimality_rel=float(
                    np.mean(
                        [
                            np.mean(np.abs(re_props[k] - fact[k])) / np.std(truth[k])
                            for k in non_desc
                        ]
                    )
                )
                if non_desc
                else float("nan"),
                pixel_rms_model=float(np.mean(_rms_sigma(model_img, xt, sigma))),
                pixel_rms_baseline=float(np.mean(_rms_sigma(x, xt, sigma))),
                property_mae={
                    k: float(np.mean(np.abs(cf_props[k] - tcf[k])))
                    for k in PROPERTY_NAMES
                    if k in cf_props and k in tcf
                },
                measured=measured,
                above_tolerance=above,
            )
        )
        examples[node] = {
            "factual": x[:n_examples],
            "model": model_img[:n_examples],
            "true": xt[:n_examples],
            "intended": target[:n_examples],
            "re_abducted": re_props[node],
            "target_all": target,
        }

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
    return float(np.mean(_rms_sigma(rec, x, sigma)))
