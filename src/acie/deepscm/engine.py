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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from acie.deepscm.checkpoint import Checkpoint, load_checkpoint
from acie.deepscm.model import Abduction
from acie.deepscm.training import resolve_device
from acie.deepscm.watermark import Watermark
from acie.errors import (
    InputValidationError,
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
    """

    def __init__(
        self,
        *,
        checkpoint: Checkpoint,
        device: str = "cpu",
        watermark: Watermark | None = None,
        warmup: bool = True,
        threads: int | None = 1,
    ) -> None:
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
    ) -> CounterfactualEngine:
        """Load an engine from a checkpoint file written by training."""
        return cls(
            checkpoint=load_checkpoint(path),
            device=device,
            watermark=watermark,
            warmup=warmup,
            threads=threads,
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

    def _interventions(self, interventions: Mapping[str, object], n: int) -> dict[str, np.ndarray]:
        from acie.galaxy.properties import validate_values

        if not isinstance(interventions, Mapping):
            raise InputValidationError(
                expected_got(
                    "interventions",
                    "a mapping of property name to value(s)",
                    type(interventions).__name__,
                )
            )
        out = {}
        for name, value in interventions.items():
            if name not in self._property_names:
                raise UnknownNodeError(name, self._property_names)
            out[name] = validate_values(name, value, n=n, check_range=True)
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
    ) -> CounterfactualResult:
        """Counterfactual images of ``images`` under ``do(interventions)``.

        Parameters
        ----------
        images : ndarray, shape (n, C, H, W) or (C, H, W), float32
            Galaxy images in the units of the training set (counts per pixel).
        interventions : mapping of str to float or ndarray (n,)
            Property name -> value(s) in the units of :data:`acie.galaxy.properties.UNITS`
            (``log_*`` nodes in dex). Empty = the null intervention.
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
            Refuse galaxy by galaxy (``status``) instead of raising for the batch.

        Raises
        ------
        ShapeError, UnknownNodeError, NonPhysicalValueError, OutOfRangeError
            Bad input (wrong image shape, unknown property, impossible or uncalibrated value).
        InputValidationError
            ``physics_tolerance`` or ``physics_steps`` out of range.
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
        props, model = self._ckpt.properties, self._model

        stage("abduction")
        x, _ = self.watermark.remove(x)  # an incoming mark is not pixel noise to carry over
        xt = self._ckpt.images.forward(torch.from_numpy(x).to(self._device))
        ab = model.abduct(xt)

        stage("action")
        do = {
            k: torch.as_tensor(props.to_standard(k, v), dtype=xt.dtype, device=self._device)
            for k, v in ivs.items()
        }
        s_cf = model.act(ab, do)

        stage("prediction")
        x_cf = model.predict(ab, s_cf)

        stage("physics_check")
        from acie.deepscm.batch_outcome import physics_check

        chk = physics_check(
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
        s_cf, x_cf, cf_props, score = chk.s_cf, chk.x_cf, chk.properties, chk.score
        projected = chk.projected
        if chk.refused.any() and not per_galaxy:  # NaN and infinite scores violate
            bad = np.flatnonzero(chk.refused)
            raise PhysicsViolationError(
                f"counterfactual(s) {bad[:5].tolist()} violate the physics constraints: "
                f"score {float(score[bad].max()):.3g} must be <= "
                f"the tolerance {tol:g} after {steps} projection step(s) with the "
                f"non-descendants of the intervention held at their abducted values",
                score=float(score[bad].max()),
                tolerance=tol,
            )

        out = self._ckpt.images.inverse(x_cf).float().cpu().numpy()
        if watermark:
            out = self.watermark.embed(out, self.noise_sigma)
        out[chk.refused] = np.nan  # a refused galaxy has no counterfactual image
        conf = 1.0 - torch.exp(0.5 * ab.s_logvar.mean(dim=1)).cpu().numpy()
        factual = self._physical(ab.s)
        if single:
            out = out[0]
        return CounterfactualResult(
            images=out.astype(np.float32),
            factual_properties=factual,
            counterfactual_properties=cf_props,
            violation_score=np.asarray(score, dtype=np.float64),
            confidence=np.clip(conf, 0.0, 1.0).astype(np.float64),
            projected=projected,
            model_version=self.model_version,
            latency_ms=(time.perf_counter() - t0) * 1e3,
            watermarked=bool(watermark),
            status=chk.status,
        )

    @torch.no_grad()
    def infer_properties(self, images: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Abducted properties and nuisances (name -> (n,)) and the confidence (n,)."""
        x, _ = self._images(images)
        ab = self._model.abduct(self._ckpt.images.forward(torch.from_numpy(x).to(self._device)))
        conf = 1.0 - torch.exp(0.5 * ab.s_logvar.mean(dim=1)).cpu().numpy()
        return (
            self._ckpt.properties.decode(ab.s.cpu().numpy().astype(np.float64)),
            np.clip(conf, 0.0, 1.0),
        )

    def _physical(self, s: torch.Tensor) -> dict[str, np.ndarray]:
        allp = self._ckpt.properties.decode(s.cpu().numpy().astype(np.float64))
        return {k: allp[k] for k in self._property_names}


def _rows(ab: Abduction, rows: np.ndarray) -> Abduction:
    idx = torch.as_tensor(rows, device=ab.z.device)
    return Abduction(
        **{f: getattr(ab, f)[idx] for f in ("x", "s", "s_logvar", "z", "u", "residual")}
    )


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
