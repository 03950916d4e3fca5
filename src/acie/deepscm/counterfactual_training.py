"""Counterfactual training of the deep SCM against an independently trained property predictor.

A fine-tuning stage after :func:`acie.deepscm.training.train`. Its objective per galaxy
adds to the training objective (negative causal ELBO, property NLL, physics penalty on
counterfactual properties) a *counterfactual term*:

    weight * mean_k [ (P_k(x') - P_k(x)) - (s'_k - s_k) ]^2 / std_k^2

where, for a random intervention on each batch, ``x'`` is the model's counterfactual
image produced differentiably by the engine's own recipe (abduction ``s = E q(s|x)``,
``z = E q(z|x,s)``, ``u = f^{-1}(s)``; action; prediction ``x' = g(mu(z, s'), eps)`` with
the abducted pixel noise ``eps``, :meth:`DeepSCM.predict`), ``P`` a *frozen* property
predictor (:mod:`acie.deepscm.predictors`) trained on other simulated galaxies, ``s'``
the counterfactual properties (the intervened node, its descendants through the learned
mechanisms, the non-descendants pinned to their abducted values) in physical units and
``std_k`` the predictor's target scale. Every property the predictor reads is scored.

The term compares *changes*: the predictor's reading of the counterfactual minus its
reading of the factual image against the intended change of the properties. A galaxy's
disagreement between the predictor and the model's abduction (``P(x) - s``) cannot be
fixed by the decoder, and an absolute error would ask every counterfactual to carry it.
Under the null intervention ``x' = x`` identically, so the term only trains the change
``mu(z, s') - mu(z, s)``; the gradient reaches the decoder and the latent encoder, the
abducted properties and the mechanisms' outputs are held fixed (targets, not
parameters), the pixel noise stays as calibrated and the predictor is never updated.

Why a separate predictor: effectiveness measured by the model's own, jointly trained
encoder is circular (Monteiro et al. 2023, ICLR; Ribeiro et al. 2023, ICML), and
training against the predictor that scores the model would make that score circular
too. :func:`load_training_predictor` therefore refuses the evaluation's predictor
(``data/predictor.pt``); the shipped training predictor is ``data/predictor_train.pt``
(other simulator seeds, ``data/PREDICTORS.md``).

Interventions per batch: one node drawn uniformly from ``nodes``; each galaxy gets, with
probability ``relative_fraction``, a relative shift ``U(-max_shift, max_shift)``
[standardised units] of its own abducted value, else (as in training) the value of
another galaxy of the batch. Everything random is seeded, so a run is reproducible.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from acie.deepscm.checkpoint import Checkpoint, save_finetuned, sha256_file
from acie.deepscm.model import DeepSCM
from acie.deepscm.pixel_noise import PixelNoiseKind
from acie.deepscm.predictors import PropertyPredictor, default_predictor_path, load_predictor
from acie.deepscm.scaling import ImageScaler, PropertyScaler
from acie.deepscm.training import PhysicsPenalty, TrainResult
from acie.errors import ConfigurationError, InputValidationError, ShapeError, expected_got

__all__ = [
    "CounterfactualTrainConfig",
    "check_predictor",
    "counterfactual_images",
    "counterfactual_term",
    "finetune_counterfactual",
    "load_training_predictor",
]


@dataclass(frozen=True, kw_only=True)
class CounterfactualTrainConfig:
    """Hyper-parameters of :func:`finetune_counterfactual` (stored in the checkpoint)."""

    weight: float = 100.0
    epochs: int = 1
    batch_size: int = 64
    learning_rate: float = 2e-4
    seed: int = 0
    max_shift: float = 1.0  # relative interventions, standardised units of the node
    relative_fraction: float = 0.5
    physics_weight: float = 1.0
    validation_fraction: float = 0.1  # same split as training.train with the same seed
    nodes: tuple[str, ...] | None = None  # intervened nodes; None = every node
    max_batches: int | None = None  # per epoch; None = the whole training split
    threads: int = 1

    def __post_init__(self) -> None:
        mb, rf, vf = self.max_batches, self.relative_fraction, self.validation_fraction
        checks = {
            "epochs": (self.epochs, "an integer >= 1", self.epochs >= 1),
            "batch_size": (self.batch_size, "an integer >= 1", self.batch_size >= 1),
            "threads": (self.threads, "an integer >= 1", self.threads >= 1),
            "max_batches": (mb, "an integer >= 1 or None", mb is None or mb >= 1),
            "weight": (self.weight, ">= 0", self.weight >= 0),
            "physics_weight": (self.physics_weight, ">= 0", self.physics_weight >= 0),
            "learning_rate": (self.learning_rate, "> 0", self.learning_rate > 0),
            "max_shift": (self.max_shift, "> 0", self.max_shift > 0),
            "relative_fraction": (rf, "in [0, 1]", 0 <= rf <= 1),
            "validation_fraction": (vf, "in (0, 0.5)", 0 < vf < 0.5),
        }
        for name, (value, want, ok) in checks.items():
            if not ok:
                raise InputValidationError(expected_got(name, want, value))


def load_training_predictor(
    path: str | Path, *, evaluation_predictor: str | Path | None = None
) -> PropertyPredictor:
    """Load a predictor file to train against, refusing the one that scores the models.

    ``evaluation_predictor`` (default ``data/predictor.pt``): a file with its bytes is refused.

    Raises
    ------
    ConfigurationError
        ``path`` holds the evaluation's predictor (its effectiveness score would be circular).
    """
    ev = Path(evaluation_predictor or default_predictor_path())
    if ev.exists() and sha256_file(path) == sha256_file(ev):
        raise ConfigurationError(
            expected_got(
                "training predictor",
                f"a predictor other than the evaluation's {ev.name} (trained on other seeds)",
                str(path),
            )
        )
    return load_predictor(path)


def check_predictor(model: DeepSCM, predictor: PropertyPredictor) -> list[int]:
    """The model's columns of the properties the predictor reads, in the predictor's order.

    Raises
    ------
    ShapeError
        The predictor reads images of another shape than the model's.
    InputValidationError
        The predictor predicts a property that is not a node of the model.
    """
    if tuple(predictor.config.image_shape) != tuple(model.config.image_shape):
        raise ShapeError(
            expected_got(
                "predictor image shape",
                str(tuple(model.config.image_shape)),
                str(tuple(predictor.config.image_shape)),
            )
        )
    names = model.property_names
    unknown = [k for k in predictor.names if k not in names]
    if unknown:
        raise InputValidationError(
            expected_got("predictor properties", f"nodes of the model {names}", unknown)
        )
    return [names.index(k) for k in predictor.names]


def counterfactual_images(
    model: DeepSCM, x: torch.Tensor, z: torch.Tensor, s: torch.Tensor, s_cf: torch.Tensor
) -> torch.Tensor:
    """:meth:`DeepSCM.predict` with gradients: stretched counterfactuals of ``x`` (n, C, H, W).

    ``z`` and ``s`` are the abducted latent and properties, ``s_cf`` the counterfactual
    properties (standardised); the pixel noise of ``x`` about ``mu(z, s)`` is reused.
    """
    mu, log_sigma = model._mean_and_log_scale(z, s)
    mu_cf, log_sigma_cf = model._mean_and_log_scale(z, s_cf)
    if model.noise is not None:
        return model.noise.generate(mu_cf, model.noise.abduct(x, mu))
    if model.pixel_noise is PixelNoiseKind.per_band:
        return mu_cf + (x - mu)
    assert log_sigma is not None
    assert log_sigma_cf is not None
    return mu_cf + torch.exp(log_sigma_cf - log_sigma) * (x - mu)


def _read(predictor: PropertyPredictor, images: ImageScaler, x_t: torch.Tensor) -> torch.Tensor:
    """Standardised predictions (n, k) of stretched images, differentiable in ``x_t``."""
    b, m, s = (images._cols(x_t, v) for v in (images.softening, images.mean, images.std))
    lin = b * torch.sinh((x_t * s + m).clamp(-25.0, 25.0))  # ImageScaler.inverse, bounded
    soft = torch.tensor(predictor.config.softening, dtype=x_t.dtype, device=x_t.device)
    return predictor.net(torch.asinh(lin / soft.view(1, -1, 1, 1)))[1]


def _interventions(
    s: torch.Tensor,
    s_obs: torch.Tensor,
    nodes: Sequence[int],
    cfg: CounterfactualTrainConfig,
    gen: torch.Generator,
) -> tuple[int, torch.Tensor]:
    """A random node and its new standardised values (n,) (see the module docstring)."""
    n = s.shape[0]
    node = nodes[int(torch.randint(len(nodes), (1,), generator=gen))]
    shift = (2.0 * torch.rand(n, generator=gen) - 1.0) * cfg.max_shift
    relative = torch.rand(n, generator=gen) < cfg.relative_fraction
    perm = torch.randperm(n, generator=gen)
    values = torch.where(
        relative.to(s.device), s[:, node] + shift.to(s.device), s_obs[perm.to(s.device), node]
    )
    return node, values


def counterfactual_term(
    model: DeepSCM,
    predictor: PropertyPredictor,
    scalers: tuple[PropertyScaler, ImageScaler],
    x: torch.Tensor,
    s_obs: torch.Tensor,
    nodes: Sequence[int],
    config: CounterfactualTrainConfig,
    generator: torch.Generator,
) -> torch.Tensor:
    """The counterfactual term (n,) of the module docstring for stretched images ``x``.

    ``scalers`` are the checkpoint's property and image scalers, ``s_obs`` (n, d) the
    batch's standardised properties (values of the absolute interventions), ``nodes``
    the columns that may be intervened on.
    """
    properties, images = scalers
    cols = check_predictor(model, predictor)
    feat = model.encoder(x)
    with torch.no_grad():
        s, _ = model.encoder.property_posterior(feat)
        u, comp = model.mechanisms.abduct_noise(s)
        node, values = _interventions(s, s_obs, nodes, config, generator)
        s_cf = model.mechanisms.predict(u, {model.property_names[node]: values}, components=comp)
        p_fact = _read(predictor, images, x)
        phys, phys_cf = properties.decode_torch(s), properties.decode_torch(s_cf)
        std = torch.tensor(predictor.config.std, dtype=x.dtype, device=x.device)
        names = model.property_names
        target = torch.stack([phys_cf[names[c]] - phys[names[c]] for c in cols], 1) / std
    z, _ = model.encoder.latent_posterior(feat, s)
    p_cf = _read(predictor, images, counterfactual_images(model, x, z, s, s_cf))
    return ((p_cf - p_fact - target) ** 2).mean(1)


def _physics(
    model: DeepSCM,
    s: torch.Tensor,
    props: PropertyScaler,
    penalty: PhysicsPenalty,
    gen: torch.Generator,
) -> torch.Tensor:
    """The physics penalty of :mod:`acie.deepscm.training` on a random ``do`` (n,)."""
    node = int(torch.randint(s.shape[1], (1,), generator=gen))
    perm = torch.randperm(s.shape[0], generator=gen).to(s.device)
    u, comp = model.mechanisms.abduct_noise(s)
    s_cf = model.mechanisms.predict(u, {model.property_names[node]: s[perm, node]}, components=comp)
    phys = penalty(props.decode_torch(s_cf))
    return phys.expand(s.shape[0]) if phys.ndim == 0 else phys


def _validate(
    model: DeepSCM,
    predictor: PropertyPredictor,
    ck: Checkpoint,
    x: torch.Tensor,
    s: torch.Tensor,
    nodes: Sequence[int],
    cfg: CounterfactualTrainConfig,
) -> dict[str, float]:
    """Validation loss and counterfactual term, per node (the same draws at each call)."""
    gen = torch.Generator().manual_seed(cfg.seed + 7919)
    sc, n = (ck.properties, ck.images), x.shape[0]
    model.eval()
    elbo, cf = 0.0, dict.fromkeys((model.property_names[k] for k in nodes), 0.0)
    with torch.no_grad():
        for i in range(0, n, 200):
            xb, sb = x[i : i + 200], s[i : i + 200]
            t = model.elbo_terms(xb, sb)
            elbo += float(-(t.elbo + t.log_q_s).sum())
            for k in nodes:
                term = counterfactual_term(model, predictor, sc, xb, sb, [k], cfg, gen)
                cf[model.property_names[k]] += float(term.sum()) / n
    return {
        "val_loss": elbo / n,
        "val_counterfactual": float(np.mean(list(cf.values()))),
        **{f"val_counterfactual_{k}": v for k, v in cf.items()},
    }


def finetune_counterfactual(
    *,
    checkpoint: Checkpoint,
    images: np.ndarray,
    properties: Mapping[str, np.ndarray],
    predictor: PropertyPredictor,
    out_dir: str | Path,
    config: CounterfactualTrainConfig = CounterfactualTrainConfig(),
    physics_penalty: PhysicsPenalty | None = None,
    metadata: Mapping[str, object] | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Fine-tune ``checkpoint``'s model with the counterfactual term; write ``out_dir/model.pt``.

    The model keeps its scalers and architecture; the training / validation split is
    that of :func:`acie.deepscm.training.train` with the same seed and fraction. The
    validation loss and counterfactual term are measured before and after each epoch
    (``history``). ``log`` receives progress lines (e.g. ``print``).

    Raises
    ------
    ShapeError, InputValidationError
        Images or properties that do not fit the checkpoint, or a predictor that does
        not (:func:`check_predictor`).
    """
    ck, cfg, say = checkpoint, config, log or (lambda _m: None)
    model, scalers = ck.model, (ck.properties, ck.images)
    check_predictor(model, predictor)  # before the data are touched
    x_np = np.asarray(images, dtype=np.float32)
    if x_np.ndim != 4 or tuple(x_np.shape[1:]) != tuple(model.config.image_shape):
        raise ShapeError(
            expected_got("images", f"(n, {model.config.image_shape}) with n >= 2", x_np.shape)
        )
    names = model.property_names
    missing = [k for k in names if k not in properties]
    if missing or x_np.shape[0] < 2:
        raise InputValidationError(expected_got("properties", f"values for {names}", missing))
    nodes = [names.index(k) for k in (cfg.nodes or names)]
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(x_np.shape[0], generator=gen)
    n_val = round(cfg.validation_fraction * x_np.shape[0])
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    x = ck.images.forward(torch.from_numpy(x_np))
    s = torch.from_numpy(ck.properties.encode(properties))
    predictor.net.eval()
    noise = list(model.noise.parameters()) if model.noise is not None else []
    for p in [*predictor.net.parameters(), *noise]:  # the pixel noise stays as calibrated
        p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    per_epoch = -(-train_idx.numel() // cfg.batch_size)
    if cfg.max_batches is not None:
        per_epoch = min(per_epoch, cfg.max_batches)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * per_epoch)
    history = [{"epoch": 0, **_validate(model, predictor, ck, x[val_idx], s[val_idx], nodes, cfg)}]
    say(json.dumps(history[-1]))
    out, version = Path(out_dir), ""
    out.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = train_idx[torch.randperm(train_idx.numel(), generator=gen)]
        t0, sums, seen = time.perf_counter(), {"loss": 0.0, "counterfactual": 0.0}, 0
        for k in range(per_epoch):
            b = order[k * cfg.batch_size : (k + 1) * cfg.batch_size]
            xb, sb = x[b], s[b]
            terms = model.elbo_terms(xb, sb)
            loss = -(terms.elbo + terms.log_q_s)
            if physics_penalty is not None and cfg.physics_weight > 0:
                loss = loss + cfg.physics_weight * _physics(
                    model, sb, ck.properties, physics_penalty, gen
                )
            cf = counterfactual_term(model, predictor, scalers, xb, sb, nodes, cfg, gen)
            loss = loss + cfg.weight * cf
            opt.zero_grad(set_to_none=True)
            loss.mean().backward()
            torch.nn.utils.clip_grad_norm_(params, 100.0)
            opt.step()
            sched.step()
            seen += b.numel()
            sums["loss"] += float(loss.detach().sum())
            sums["counterfactual"] += float(cf.detach().sum())
            if (k + 1) % 10 == 0 or k + 1 == per_epoch:
                dt = time.perf_counter() - t0
                say(
                    f"epoch {epoch} batch {k + 1}/{per_epoch}: loss {sums['loss'] / seen:.1f}, "
                    f"counterfactual {sums['counterfactual'] / seen:.4f} "
                    f"({1000 * dt / seen:.1f} ms per galaxy)"
                )
        row = {
            "epoch": epoch,
            "seconds": time.perf_counter() - t0,
            "galaxies": seen,
            **{f"train_{k}": v / seen for k, v in sums.items()},
            **_validate(model, predictor, ck, x[val_idx], s[val_idx], nodes, cfg),
        }
        history.append(row)
        say(json.dumps(row))
        model.eval()
        version = save_finetuned(
            out,
            model,
            ck,
            stage="counterfactual_training",
            config=asdict(cfg),
            history=history,
            metadata=metadata,
        )
    secs = float(np.mean([r["seconds"] for r in history[1:]]))
    return TrainResult(out / "model.pt", version, history, seconds_per_epoch=secs, device="cpu")
