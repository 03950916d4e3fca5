"""The counterfactual engine: images in, counterfactual images out, checked and marked.

``CounterfactualEngine.counterfactual(images, {"log_stellar_mass": 10.8})`` runs, for
a batch of galaxy images,

1. ``abduction``: infer the galaxies' properties ``q(s|x)``, their latent code, the
   property noise ``u`` and the pixel noise (see :mod:`acie.deepscm.model`);
2. ``action``: ``do`` on the property graph, propagating to the descendants through the
   learned mechanisms;
3. ``prediction``: decode the counterfactual image;
4. ``physics_check``: score the counterfactual properties against the physics
   constraints (:mod:`acie.galaxy.constraints`); above the tolerance, project them
   onto the physical manifold (intervened values and their non-descendants held fixed,
   at most ``physics_steps`` steps) and decode again, galaxy by galaxy
   (:mod:`acie.deepscm.batch_outcome`); still above: refuse with
   :class:`~acie.errors.PhysicsViolationError` (or per galaxy, ``per_galaxy=True``).

Every returned image carries the invisible watermark of :mod:`acie.deepscm.watermark`
unless ``watermark=False``.

Confidence
----------
``confidence = 1 - exp((H[q(s|x)] - H[p(s)]) / d)``, where ``H`` is the differential
entropy of the diagonal Gaussian property posterior and of the standard normal (the
standardised training marginal), over the ``d`` modelled properties and nuisances. It
equals ``1 - (geometric mean of the posterior standard deviations)`` in units of the
training spread: 0 when the image tells nothing beyond the training distribution, 1
for a certain posterior.

This module is longer than ~400 lines because it is one concept, the engine: its
input checks, its four stages and the result type they fill share the loaded
checkpoint and one request's path, which reads best in one file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from acie.deepscm.abduction_refinement import check_steps, refined_abduction
from acie.deepscm.batch_outcome import PhysicsOutcome, physics_check
from acie.deepscm.checkpoint import Checkpoint, load_checkpoint
from acie.deepscm.interventions import Intervention, out_of_range, parse_intervention
from acie.deepscm.model import Abduction
from acie.deepscm.particles import (
    ParticleSummary,
    check_particles,
    midpoint_particles,
    sample_abduction,
    summarise,
)
from acie.deepscm.training import resolve_device
from acie.deepscm.watermark import Watermark
from acie.errors import (
    InputValidationError,
    OutOfRangeError,
    PhysicsViolationError,
    ShapeError,
    UnknownNodeError,
    expected_got,
)
from acie.physics.constraints import DEFAULT_STEPS, DEFAULT_TOLERANCE

__all__ = [
    "STAGES",
    "CounterfactualEngine",
    "CounterfactualResult",
    "default_model_path",
    "load_default_model",
]

STAGES = ("abduction", "action", "prediction", "physics_check")


@dataclass(frozen=True)
class CounterfactualResult:
    """Result of :meth:`CounterfactualEngine.counterfactual` for a batch of ``n`` images.

    Attributes
    ----------
    images : ndarray, shape (n, C, H, W), float32
        Counterfactual images [same units as the input].
    factual_properties, counterfactual_properties : dict of str to ndarray (n,)
        Abducted and counterfactual properties, units of :mod:`acie.galaxy.properties`.
    violation_score : ndarray (n,)
        Physics violation score of the counterfactual properties (after projection).
    confidence : ndarray (n,)
        In [0, 1], from the entropy of the property posterior (module docstring).
    projected : ndarray (n,) of bool
        Whether the physics projection changed the counterfactual.
    model_version : str
        SHA-256 of the checkpoint.
    latency_ms : float
        Wall time of the call [ms].
    watermarked : bool
    status : ndarray (n,) of str
        Per galaxy ``"ok"``, ``"projected"`` or ``"refused"`` (NaN image; only with
        ``per_galaxy=True``, otherwise a refusal raises), see
        :mod:`acie.deepscm.batch_outcome`.
    reason : ndarray (n,) of str
        Why a galaxy was projected or refused ("" when ``ok``).
    interventions : dict of str to Intervention
        The parsed interventions (kind and amount per galaxy),
        :mod:`acie.deepscm.interventions`.
    targets : dict of str to ndarray (n,)
        The value each intervened node was set to per galaxy (for a relative
        intervention: the abducted value, in ``factual_properties``, shifted or scaled).
    uncertainty : ParticleSummary or None
        With ``n_particles > 0``: per-pixel std maps and property intervals
        (:mod:`acie.deepscm.particles`).
    expected_draws : int
        0: the point answer. ``N > 0``: ``images`` and ``counterfactual_properties`` are
        the expected answer, the mean over ``N`` midpoint draws of the unidentified
        exogenous noise (:meth:`CounterfactualEngine.counterfactual`).
    """

    images: np.ndarray
    factual_properties: dict[str, np.ndarray]
    counterfactual_properties: dict[str, np.ndarray]
    violation_score: np.ndarray
    confidence: np.ndarray
    projected: np.ndarray
    model_version: str
    latency_ms: float
    watermarked: bool
    status: np.ndarray
    reason: np.ndarray | None = None
    interventions: dict[str, Intervention] = field(default_factory=dict)
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    uncertainty: ParticleSummary | None = None
    expected_draws: int = 0

    def rows(self, sl: slice | np.ndarray) -> CounterfactualResult:
        """The result of the galaxies ``sl`` of a batch (for splitting a micro-batch)."""
        return replace(
            self,
            images=self.images[sl],
            factual_properties={k: v[sl] for k, v in self.factual_properties.items()},
            counterfactual_properties={k: v[sl] for k, v in self.counterfactual_properties.items()},
            violation_score=self.violation_score[sl],
            confidence=self.confidence[sl],
            projected=self.projected[sl],
            status=self.status[sl],
            reason=None if self.reason is None else self.reason[sl],
            interventions={
                k: Intervention(iv.name, iv.kind, iv.amount[sl])
                for k, iv in self.interventions.items()
            },
            targets={k: v[sl] for k, v in self.targets.items()},
            uncertainty=None if self.uncertainty is None else self.uncertainty.rows(sl),
        )


def default_model_path() -> Path:
    """Path of the shipped model (``acie/deepscm/data/default.pt``)."""
    return Path(__file__).with_name("data") / "default.pt"


class CounterfactualEngine:
    """Batched counterfactual inference with a trained deep SCM.

    Parameters
    ----------
    checkpoint : Checkpoint
        A loaded checkpoint (see :func:`from_checkpoint`).
    device : str
        ``"cpu"`` (default), ``"cuda"`` or ``"auto"`` (CUDA when a GPU is present). The
        interfaces map the ``ENABLE_CUDA`` setting to this argument.
    watermark : Watermark
        The mark added to generated images and removed from incoming ones; the
        interfaces build it from the configured key. Default: a random key per engine.
    warmup : bool
        Run one dummy counterfactual at construction, so the first real request does
        not pay for lazy imports and first-call kernel set-up (~0.3 s on CPU).
    threads : int or None
        On CPU, the number of torch intra-op threads (a process-wide torch setting).
        The default 1 suits a service whose worker threads already run requests in
        parallel, and shared machines: on the 2-core development machine under load,
        one thread answers a single image in ~10 ms and two threads in ~60 ms (OpenMP
        barrier spinning). ``None`` leaves torch's setting alone.
    abduction_steps : int
        Refinement steps of the abducted properties and latent towards a mode of the
        model's joint density (:mod:`acie.deepscm.abduction_refinement`); 0 = the
        encoder's means. Used by every abduction of the engine (counterfactuals and
        :meth:`infer_properties`), so do-then-undo is consistent.
    """

    def __init__(
        self,
        *,
        checkpoint: Checkpoint,
        device: str = "cpu",
        watermark: Watermark | None = None,
        warmup: bool = True,
        threads: int | None = 1,
        abduction_steps: int = 0,
    ) -> None:
        self.abduction_steps = check_steps(abduction_steps)
        self._device = resolve_device(device)
        if threads is not None and self._device.type == "cpu":
            torch.set_num_threads(int(threads))
        self._ckpt = checkpoint
        self._model = checkpoint.model.to(self._device).eval()
        self.watermark = watermark or Watermark()
        from acie.galaxy.properties import PROPERTY_NAMES

        self._property_names = [n for n in PROPERTY_NAMES if n in self._ckpt.properties.names]
        if warmup:
            from acie.galaxy.properties import RANGES

            node = self._property_names[0]
            mid = 0.5 * (RANGES[node].low + RANGES[node].high)
            self.counterfactual(
                np.zeros((1, *self.image_shape), np.float32),
                {node: mid},
                physics_steps=0,
                physics_tolerance=1e9,
            )

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        device: str = "cpu",
        watermark: Watermark | None = None,
        warmup: bool = True,
        threads: int | None = 1,
        abduction_steps: int = 0,
    ) -> CounterfactualEngine:
        """Load an engine from a checkpoint file written by training."""
        return cls(
            checkpoint=load_checkpoint(path),
            device=device,
            watermark=watermark,
            warmup=warmup,
            threads=threads,
            abduction_steps=abduction_steps,
        )

    @property
    def model_version(self) -> str:
        """SHA-256 hex digest of the checkpoint file."""
        return self._ckpt.version

    @property
    def property_names(self) -> list[str]:
        """Property nodes that can be intervened on."""
        return list(self._property_names)

    @property
    def modelled_names(self) -> list[str]:
        """All nodes of the learned SCM: properties, then image nuisances."""
        return list(self._ckpt.properties.names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images the model takes and returns."""
        return tuple(self._model.config.image_shape)  # type: ignore[return-value]

    @property
    def device(self) -> str:
        """The torch device the model runs on (``cpu``, ``cuda:0`` …)."""
        return str(self._device)

    @property
    def metadata(self) -> dict[str, object]:
        """A copy of the checkpoint's metadata (training config, data, history …)."""
        return dict(self._ckpt.metadata)

    @property
    def checkpoint(self) -> Checkpoint:
        """The loaded checkpoint (torch model, scalers, metadata, version)."""
        return self._ckpt

    @torch.no_grad()
    def encoder_features(self, images: np.ndarray) -> np.ndarray:
        """Encoder features (n, F) float64 of images (n, C, H, W).

        They are the input of the property head ``checkpoint.model.encoder.property_head``
        (rows ``:d`` give the posterior mean).
        """
        x, _ = self._images(images)
        xt = self._ckpt.images.forward(torch.from_numpy(x).to(self._device))
        return self._model.encoder(xt).double().cpu().numpy()

    @property
    def noise_sigma(self) -> list[float]:
        """Per-band sky-noise sigma of the training images [image units]."""
        return list(self._ckpt.images.softening)

    # -- validation -------------------------------------------------------------------
    def _images(self, images: object) -> tuple[np.ndarray, bool]:
        x = np.asarray(images, dtype=np.float32)
        given = x.shape
        single = x.ndim == 3
        if single:
            x = x[None]
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape or x.shape[0] < 1:
            raise ShapeError(
                expected_got(
                    "images",
                    f"a float array (n, {', '.join(map(str, self.image_shape))}) "
                    f"or {self.image_shape} for one image",
                    given,
                )
            )
        if not np.all(np.isfinite(x)):
            raise InputValidationError(
                expected_got("image pixels", "finite numbers", "NaN or infinite values")
            )
        return x, single

    def _interventions(
        self, interventions: Mapping[str, object], n: int
    ) -> dict[str, Intervention]:
        if not isinstance(interventions, Mapping):
            raise InputValidationError(
                expected_got(
                    "interventions",
                    "a mapping of property name to value(s) or {kind: amount}",
                    type(interventions).__name__,
                )
            )
        out = {}
        for name, value in interventions.items():
            if name not in self._property_names:
                raise UnknownNodeError(name, self._property_names)
            out[name] = parse_intervention(name, value, n)
        return out

    # -- inference --------------------------------------------------------------------
    @torch.no_grad()
    def counterfactual(
        self,
        images: np.ndarray,
        interventions: Mapping[str, object],
        *,
        physics_tolerance: float = DEFAULT_TOLERANCE,
        physics_steps: int = DEFAULT_STEPS,
        watermark: bool = True,
        on_stage: Callable[[str], None] | None = None,
        per_galaxy: bool = False,
        n_particles: int = 0,
        seed: int = 0,
        expected_draws: int = 0,
    ) -> CounterfactualResult:
        """Counterfactual images of ``images`` under ``do(interventions)``.

        Parameters
        ----------
        images : ndarray, shape (n, C, H, W) or (C, H, W), float32
            Galaxy images in the units of the training set (counts per pixel).
        interventions : mapping of str to float, ndarray (n,) or {kind: amount}
            Property name -> value(s) in the units of :data:`acie.galaxy.properties.UNITS`
            (``log_*`` nodes in dex), or a relative form ``{"shift": d}`` /
            ``{"factor": f}`` of the galaxy's own abducted value
            (:mod:`acie.deepscm.interventions`). Empty = the null intervention.
        physics_tolerance : float
            Largest allowed violation score [dex], > 0 (default 0.05, the default of the
            ``PHYSICS_TOLERANCE`` setting, which the command line and server pass here).
        physics_steps : int
            Projection steps, >= 0 (default 50, the ``PHYSICS_STEPS`` setting's default;
            0 = no projection).
        watermark : bool
            Add the invisible watermark to the returned images.
        on_stage : callable, optional
            Called with each stage name of :data:`STAGES` as it starts.
        per_galaxy : bool
            Refuse galaxy by galaxy (``status``, ``reason``) instead of raising for the
            batch (also for a relative target outside the calibrated range).
        n_particles : int
            0 (default) or up to :data:`~acie.deepscm.particles.MAX_PARTICLES` stochastic
            abductions per galaxy for ``uncertainty`` (:mod:`acie.deepscm.particles`).
        seed : int
            Seed of the particles' draws (the same call gives the same uncertainty).
        expected_draws : int
            0 (default): the point answer, which keeps each galaxy's branch of every
            mixture node (e.g. star-forming ``log_sfr``). ``N`` (1 to
            :data:`~acie.deepscm.particles.MAX_PARTICLES`): the *expected* answer
            ``E[x' | x]``, the mean image (and mean properties) over ``N`` midpoint draws
            of the exogenous noise the image does not identify (whether the galaxy
            would quench under ``do``; :func:`~acie.deepscm.particles.midpoint_particles`),
            each draw checked and projected like the point answer. A galaxy none of
            whose draws passes is refused. On ``M* x 2`` it brings the p95 of the flux
            error from 0.137 to 0.101 dex (``docs/deepscm.md``); the price is that the
            image is a mixture of branches, not one sharp galaxy.

        Raises
        ------
        ShapeError, UnknownNodeError, NonPhysicalValueError, OutOfRangeError
            Bad input (wrong image shape, unknown property, impossible or uncalibrated value).
        InvalidInterventionError
            An intervention of an unknown form or kind, or a non-numeric amount.
        InputValidationError
            ``physics_tolerance``, ``physics_steps`` or ``n_particles`` out of range; a
            non-finite amount or a factor <= 0 (:class:`NonPhysicalValueError`); a
            relative target outside the calibrated range (:class:`OutOfRangeError`,
            unless ``per_galaxy``).
        PhysicsViolationError
            A counterfactual still violates the physics beyond the tolerance after the
            projection with the non-descendants pinned (unless ``per_galaxy``).
        """
        t0 = time.perf_counter()
        stage = on_stage or (lambda _s: None)
        x, single = self._images(images)
        n = x.shape[0]
        ivs = self._interventions(interventions, n)
        tol, steps = _physics_arguments(physics_tolerance, physics_steps)
        n_particles = check_particles(n_particles)
        expected_draws = check_particles(expected_draws, "expected_draws")

        stage("abduction")
        x, _ = self.watermark.remove(x)  # an incoming mark is not pixel noise to carry over
        xt = self._ckpt.images.forward(torch.from_numpy(x).to(self._device))
        ab = self._abduct(xt)
        factual = self._physical(ab.s)

        stage("action")
        targets, bad_target = _targets(ivs, factual)
        if bad_target.any() and not per_galaxy:
            i = int(np.flatnonzero(bad_target)[0])
            raise OutOfRangeError(_range_reason(ivs, factual, targets, i))
        chk = self._act_predict_check(ab, ivs, targets, factual, bad_target, tol, steps, stage)
        score, status = chk.score, chk.status.astype(object)
        cf_props = chk.properties
        if expected_draws:
            out, cf_props, score, status = self._expected(ab, xt, ivs, expected_draws, tol, steps)
        else:
            out = self._ckpt.images.inverse(chk.x_cf).float().cpu().numpy()
        reason = np.array(
            [
                _range_reason(ivs, factual, targets, i)
                if bad_target[i]
                else _physics_reason(status[i], float(score[i]), tol, steps)
                for i in range(n)
            ],
            dtype=object,
        )
        status[bad_target] = "refused"
        refused = status == "refused"
        if refused.any() and not per_galaxy:  # NaN and infinite scores violate
            bad = np.flatnonzero(refused)
            raise PhysicsViolationError(
                f"counterfactual(s) {bad[:5].tolist()} violate the physics constraints: "
                f"score {float(score[bad].max()):.3g} must be <= "
                f"the tolerance {tol:g} after {steps} projection step(s) with the "
                f"non-descendants of the intervention held at their abducted values",
                score=float(score[bad].max()),
                tolerance=tol,
            )

        if watermark:
            out = self.watermark.embed(out, self.noise_sigma)
        out[refused] = np.nan  # a refused galaxy has no counterfactual image
        uncertainty = None
        if n_particles:
            gen = torch.Generator().manual_seed(int(seed))  # CPU draws: same on any device
            uncertainty = self._particles(xt, ivs, n_particles, gen, tol, steps)
            uncertainty.image_std[refused] = np.nan
        conf = 1.0 - torch.exp(0.5 * ab.s_logvar.mean(dim=1)).cpu().numpy()
        if single:
            out = out[0]
        return CounterfactualResult(
            images=out.astype(np.float32),
            factual_properties=factual,
            counterfactual_properties=cf_props,
            violation_score=np.asarray(score, dtype=np.float64),
            confidence=np.clip(conf, 0.0, 1.0).astype(np.float64),
            projected=status == "projected",
            model_version=self.model_version,
            latency_ms=(time.perf_counter() - t0) * 1e3,
            watermarked=bool(watermark),
            status=status.astype(str),
            reason=reason.astype(str),
            interventions=ivs,
            targets=targets,
            uncertainty=uncertainty,
            expected_draws=expected_draws,
        )

    def _act_predict_check(
        self,
        ab: Abduction,
        ivs: dict[str, Intervention],
        targets: dict[str, np.ndarray],
        factual: dict[str, np.ndarray],
        bad_target: np.ndarray,
        tol: float,
        steps: int,
        stage: Callable[[str], None] = lambda _s: None,
    ) -> PhysicsOutcome:
        """Action, prediction and physics check; a bad target acts as the null intervention."""
        props, model = self._ckpt.properties, self._model
        do = {
            k: torch.as_tensor(
                props.to_standard(k, np.where(bad_target, factual[k], v)),
                dtype=ab.s.dtype,
                device=self._device,
            )
            for k, v in targets.items()
        }
        s_cf = model.act(ab, do)
        stage("prediction")
        x_cf = model.predict(ab, s_cf)
        stage("physics_check")
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # a non-physical value (e.g. a particle's negative sersic_n) scores NaN: refused
            return physics_check(
                s_cf,
                x_cf,
                intervened=list(ivs),
                names=list(props.names),
                to_standard=props.to_standard,
                physical=self._physical,
                decode=lambda rows, s: model.predict(_rows(ab, rows), s),
                tolerance=tol,
                steps=steps,
            )

    def _expected(
        self,
        ab: Abduction,
        xt: torch.Tensor,
        ivs: dict[str, Intervention],
        draws: int,
        tol: float,
        steps: int,
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """The expected answer: mean image [image units], mean properties, score, status.

        The score is the worst over the passing draws (the best over all draws when none
        passes: the galaxy is refused); the status ``projected`` when any passing draw was.
        """
        n = xt.shape[0]
        abp = midpoint_particles(self._model, xt, draws, base=ab)
        factual = self._physical(abp.s)
        tiled = {
            k: Intervention(iv.name, iv.kind, np.tile(iv.amount, draws)) for k, iv in ivs.items()
        }
        targets, bad = _targets(tiled, factual)
        chk = self._act_predict_check(abp, tiled, targets, factual, bad, tol, steps)
        ok = ~(chk.refused | bad).reshape(draws, n)
        count = ok.sum(axis=0)
        w = ok / np.maximum(count, 1)  # (draws, n): equal weights over the passing draws
        # the mean is taken in image units, where flux is linear
        imgs = self._ckpt.images.inverse(chk.x_cf).double().cpu().numpy()
        imgs = imgs.reshape(draws, n, *imgs.shape[1:])
        keep = ok[(...,) + (None,) * (imgs.ndim - 2)]
        mean = (np.where(keep, imgs, 0.0) * w[(...,) + (None,) * (imgs.ndim - 2)]).sum(axis=0)
        props = {
            k: np.where(
                count > 0, (np.where(ok, np.reshape(v, (draws, n)), 0.0) * w).sum(axis=0), np.nan
            )
            for k, v in chk.properties.items()
        }
        scores = np.asarray(chk.score, dtype=np.float64).reshape(draws, n)
        with np.errstate(invalid="ignore"):
            score = np.where(
                count > 0,
                np.where(ok, scores, -np.inf).max(axis=0),
                np.where(np.isnan(scores), np.inf, scores).min(axis=0),
            )
        projected = ((chk.status.reshape(draws, n) == "projected") & ok).any(axis=0)
        status = np.where(count == 0, "refused", np.where(projected, "projected", "ok"))
        return mean.astype(np.float32), props, score, status.astype(object)

    def _particles(
        self,
        xt: torch.Tensor,
        ivs: dict[str, Intervention],
        n_particles: int,
        gen: torch.Generator,
        tol: float,
        steps: int,
    ) -> ParticleSummary:
        """Counterfactuals of ``n_particles`` stochastic abductions, summarised."""
        n = xt.shape[0]
        ab = sample_abduction(self._model, xt, n_particles, gen)
        factual = self._physical(ab.s)
        tiled = {
            k: Intervention(iv.name, iv.kind, np.tile(iv.amount, n_particles))
            for k, iv in ivs.items()
        }
        targets, bad = _targets(tiled, factual)
        chk = self._act_predict_check(ab, tiled, targets, factual, bad, tol, steps)
        imgs = self._ckpt.images.inverse(chk.x_cf).float().cpu().numpy()
        shape = (n_particles, n)
        return summarise(
            imgs.reshape(shape + imgs.shape[1:]),
            {k: v.reshape(shape) for k, v in chk.properties.items()},
            (~(chk.refused | bad)).reshape(shape),
        )

    @torch.no_grad()
    def infer_properties(self, images: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Abducted properties and nuisances (name -> (n,)) and the confidence (n,)."""
        x, _ = self._images(images)
        ab = self._abduct(self._ckpt.images.forward(torch.from_numpy(x).to(self._device)))
        conf = 1.0 - torch.exp(0.5 * ab.s_logvar.mean(dim=1)).cpu().numpy()
        return (
            self._ckpt.properties.decode(ab.s.cpu().numpy().astype(np.float64)),
            np.clip(conf, 0.0, 1.0),
        )

    def _abduct(self, xt: torch.Tensor) -> Abduction:
        return refined_abduction(self._model, xt, steps=self.abduction_steps)  # type: ignore[return-value]

    def _physical(self, s: torch.Tensor) -> dict[str, np.ndarray]:
        allp = self._ckpt.properties.decode(s.cpu().numpy().astype(np.float64))
        return {k: allp[k] for k in self._property_names}


def _rows(ab: Abduction, rows: np.ndarray) -> Abduction:
    idx = torch.as_tensor(rows, device=ab.z.device)

    def take(v: torch.Tensor | None) -> torch.Tensor | None:
        return None if v is None else v[idx]

    return type(ab)(**{f.name: take(getattr(ab, f.name)) for f in fields(ab)})  # type: ignore[arg-type]


def _targets(
    ivs: dict[str, Intervention], factual: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-galaxy targets of the interventions and which fall outside the calibrated range."""
    n = next(iter(factual.values())).shape[0]
    targets = {k: iv.target(factual[k]) for k, iv in ivs.items()}
    bad = np.zeros(n, dtype=bool)
    for k, t in targets.items():
        bad |= out_of_range(k, t)
    return targets, bad


def _range_reason(
    ivs: dict[str, Intervention],
    factual: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    i: int,
) -> str:
    from acie.galaxy.properties import RANGES

    for k, iv in ivs.items():
        if out_of_range(k, targets[k][i : i + 1])[0]:
            r = RANGES[k]
            return (
                f"out_of_range: galaxy {i}: {iv.describe(i)} from the abducted "
                f"{factual[k][i]:.4g} gives {targets[k][i]:.4g}, outside the calibrated "
                f"range [{r.low:g}, {r.high:g}] of {k}"
            )
    return ""


def _physics_reason(status: str, score: float, tol: float, steps: int) -> str:
    if status == "projected":
        return f"projected: score {score:.3g} <= tolerance {tol:g} after the pinned projection"
    if status == "refused":
        return (
            f"physics: violation score {score:.3g} above tolerance {tol:g} after "
            f"{steps} pinned projection step(s)"
        )
    return ""


def _physics_arguments(tol: object, steps: object) -> tuple[float, int]:
    if isinstance(tol, bool) or not (isinstance(tol, int | float) and tol > 0):
        raise InputValidationError(expected_got("physics_tolerance", "a number > 0", tol))
    if isinstance(steps, bool) or not (isinstance(steps, int) and steps >= 0):
        raise InputValidationError(expected_got("physics_steps", "an integer >= 0", steps))
    return float(tol), int(steps)


def load_default_model(
    *, device: str = "cpu", threads: int | None = 1, watermark: Watermark | None = None
) -> CounterfactualEngine:
    """The shipped deep SCM (see ``acie/deepscm/data/REFERENCE.md``).

    ``device`` is ``"cpu"``, ``"cuda"`` or ``"auto"``; ``threads`` and ``watermark`` as
    in :class:`CounterfactualEngine`.
    """
    return CounterfactualEngine.from_checkpoint(
        default_model_path(), device=device, threads=threads, watermark=watermark
    )
