"""Training of the deep SCM with the causal ELBO: seeded, with progress and checkpoints.

The objective per galaxy (nats) is

    - [ log p(s) + E_q log p(x | z, s) - KL(q(z|x,s) || N(0, I)) ]   (negative causal ELBO)
    - log q(s | x)                                                   (property abduction)
    + physics_weight * penalty(s_cf)                                 (physics, optional)

where ``s_cf`` are counterfactual properties under a random ``do`` on each batch: a
random node is set to values drawn from the batch's own values of that node (so they
stay inside the data's support) and its descendants are propagated through the learned
mechanisms. The penalty (e.g. :func:`acie.galaxy.constraints.penalty`) is thus applied
exactly where the model must extrapolate. A run may warm-start from a checkpoint
(``init_from``), pre-fit the property mechanisms alone and fix ``poisson`` pixel
noise to the instrument (``instrument_noise``).

This module is longer than ~400 lines because the epoch loop, the warm start and the
pre-fit share the seeded state of one training run. Everything random is seeded: weights
(``torch.manual_seed``), batch order and the training/validation split (a
``torch.Generator``), reparameterisation noise and interventions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from acie._files import write_text
from acie.deepscm.checkpoint import Checkpoint, save_checkpoint
from acie.deepscm.model import DeepSCM, DeepSCMConfig
from acie.deepscm.scaling import ImageScaler, PropertyScaler
from acie.errors import ConfigurationError, InputValidationError, ShapeError, expected_got

__all__ = ["PhysicsPenalty", "TrainConfig", "TrainResult", "resolve_device", "train"]

PhysicsPenalty = Callable[[dict[str, torch.Tensor]], torch.Tensor]
"""Maps physical property tensors (name -> (n,)) to a penalty >= 0, per galaxy (n,) or
a batch mean (0-d), e.g. :func:`acie.galaxy.constraints.penalty`."""


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """The torch device to use.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"`` (default), ``"cuda"`` (``"cuda:N"``) or ``"auto"``: CUDA when a GPU is
        present, else CPU. Library code never reads settings; the command line and the
        server turn the ``ENABLE_CUDA`` setting into this argument.

    Raises
    ------
    ConfigurationError
        ``"cuda"`` on a machine without a usable GPU.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(
            expected_got("device", "'cpu' or 'auto' on a machine without a CUDA GPU", str(device))
        )
    return dev


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Hyper-parameters of :func:`train` (stored in the checkpoint's metadata)."""

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 0
    latent_dim: int = 16
    width: int = 16
    mechanism: str = "gaussian"
    mechanism_hidden: int = 32
    mixtures: dict[str, int] = field(default_factory=dict)
    decoder: str = "v1"
    pixel_noise: str = "per-band"
    physics_weight: float = 1.0
    validation_fraction: float = 0.1
    device: str = "cpu"
    threads: int = 1
    progress: bool = True
    keep_epoch_checkpoints: bool = False
    init_from: str | None = None
    # {"sky_sigma": [per band], "gain": g}: fixes "poisson" pixel noise to the instrument
    instrument_noise: dict[str, object] | None = None
    mechanism_prefit_epochs: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "latent_dim", "width", "mechanism_hidden", "threads"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise InputValidationError(expected_got(name, "a positive integer", v))
        if not 0.0 <= self.validation_fraction < 0.5:
            raise InputValidationError(
                expected_got("validation_fraction", "in [0, 0.5)", self.validation_fraction)
            )
        if not self.learning_rate > 0:
            raise InputValidationError(expected_got("learning_rate", "> 0", self.learning_rate))


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    checkpoint: Path
    model_version: str
    history: list[dict[str, float]] = field(default_factory=list)
    seconds_per_epoch: float = 0.0
    device: str = "cpu"


def _write_json_atomic(path: Path, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=2))


def _epoch_losses(
    model: DeepSCM,
    x: torch.Tensor,
    s: torch.Tensor,
    idx: torch.Tensor,
    cfg: TrainConfig,
    props: PropertyScaler,
    penalty: PhysicsPenalty | None,
    gen: torch.Generator,
    opt: torch.optim.Optimizer | None,
    bar: object | None,
) -> dict[str, float]:
    sums = {
        "loss": 0.0,
        "neg_elbo": 0.0,
        "log_p_s": 0.0,
        "log_p_x": 0.0,
        "kl_z": 0.0,
        "log_q_s": 0.0,
        "physics": 0.0,
    }
    n_seen = 0
    train = opt is not None
    model.train(train)
    d = s.shape[1]
    for start in range(0, idx.numel(), cfg.batch_size):
        b = idx[start : start + cfg.batch_size]
        xb, sb = x[b], s[b]
        with torch.set_grad_enabled(train):
            terms = model.elbo_terms(xb, sb)
            loss = -(terms.elbo + terms.log_q_s)
            phys = torch.zeros_like(loss)
            if penalty is not None and cfg.physics_weight > 0:
                node = int(torch.randint(d, (1,), generator=gen))
                perm = torch.randperm(sb.shape[0], generator=gen).to(sb.device)
                u, comp = model.mechanisms.abduct_noise(sb)
                s_cf = model.mechanisms.predict(
                    u, {model.mechanisms.names[node]: sb[perm, node]}, components=comp
                )
                phys = penalty(props.decode_torch(s_cf))
                if phys.ndim == 0:  # a batch-mean penalty: spread it over the galaxies
                    phys = phys.expand_as(loss)
                loss = loss + cfg.physics_weight * phys
            mean_loss = loss.mean()
        if opt is not None:
            opt.zero_grad(set_to_none=True)
            mean_loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 100.0)
            opt.step()
        k = b.numel()
        n_seen += k
        sums["loss"] += float(loss.detach().sum())
        sums["neg_elbo"] += float(-terms.elbo.detach().sum())
        for name in ("log_p_s", "log_p_x", "kl_z", "log_q_s"):
            sums[name] += float(getattr(terms, name).detach().sum())
        sums["physics"] += float(phys.detach().sum())
        if bar is not None:
            bar.update(k)  # type: ignore[attr-defined]
            bar.set_postfix(loss=f"{sums['loss'] / n_seen:.1f}")  # type: ignore[attr-defined]
    return {k: v / max(n_seen, 1) for k, v in sums.items()}


def _warm_start(model: DeepSCM, source: DeepSCM) -> int:
    """Copy every tensor of ``source`` whose name and shape ``model`` shares; return the count."""
    own = model.state_dict()
    same = {k: v for k, v in source.state_dict().items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(same, strict=False)
    return len(same)


def _initialise(
    model: DeepSCM, init: Checkpoint | None, config: TrainConfig, x_sample: torch.Tensor
) -> dict[str, object]:
    """Warm start from ``init`` and set up the pixel noise; return metadata about it.

    ``poisson`` pixel noise is fixed to ``config.instrument_noise`` when given; else, on a
    warm start, initialised from the moments of the warm decoder's residuals on
    ``x_sample`` (stretched training images).
    """
    meta: dict[str, object] = {}
    if init is not None:
        meta = {"init_from": init.version, "init_tensors_copied": _warm_start(model, init.model)}
    if model.noise is None:
        return meta
    if config.instrument_noise is not None:
        inst = config.instrument_noise
        model.noise.calibrate(inst["sky_sigma"], inst["gain"])  # type: ignore[arg-type]
        meta["pixel_noise"] = "calibrated to the instrument"
    elif init is not None:
        with torch.no_grad():
            model.noise.fit_moments(x_sample, x_sample - model.abduct(x_sample).residual)
        meta["pixel_noise"] = "learned, initialised from residual moments"
    return meta


def _prefit_mechanisms(model: DeepSCM, s: torch.Tensor, epochs: int, gen: torch.Generator) -> None:
    """Maximum likelihood of the property mechanisms alone (cheap), before the joint training.

    ``log p(s)`` does not involve the images, so its optimum is reached here in seconds;
    the joint training then starts from well-fitted (e.g. already bimodal) mechanisms.
    """
    mech = model.mechanisms
    opt = torch.optim.AdamW(mech.parameters(), lr=5e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    for _ in range(epochs):
        order = torch.randperm(s.shape[0], generator=gen).to(s.device)
        for start in range(0, order.numel(), 256):
            loss = -mech.log_prob(s[order[start : start + 256]]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()


def train(
    *,
    images: np.ndarray,
    properties: Mapping[str, np.ndarray],
    parents: Mapping[str, Sequence[str]],
    positive: Sequence[str],
    out_dir: str | Path,
    config: TrainConfig = TrainConfig(),
    physics_penalty: PhysicsPenalty | None = None,
    metadata: Mapping[str, object] | None = None,
) -> TrainResult:
    """Train a deep SCM on images and their properties; write checkpoints to ``out_dir``.

    Parameters
    ----------
    images : ndarray, shape (n, C, H, W)
        Training images [image units, e.g. counts per pixel].
    properties : mapping of str to ndarray
        Property name -> values (n,) in the physical units of
        :mod:`acie.galaxy.properties`; must hold every node of ``parents``.
    parents : mapping of str to sequence of str
        The property DAG (node -> parents).
    positive : sequence of str
        Properties that are positive amounts (modelled in log10; must stay > 0).
    out_dir : path
        Directory for ``model.pt`` (final), ``history.json`` and, if
        ``config.keep_epoch_checkpoints``, ``epoch-NNN.pt``.
    config : TrainConfig
    physics_penalty : callable, optional
        Differentiable per-galaxy physics penalty on physical property tensors.
    metadata : mapping, optional
        Extra metadata stored in the checkpoint (e.g. the command line, data seed).

    Returns
    -------
    TrainResult
    """
    from tqdm.auto import tqdm

    x_np = np.asarray(images, dtype=np.float32)
    if x_np.ndim != 4:
        raise ShapeError(expected_got("images", "an array (n, C, H, W)", x_np.shape))
    n = x_np.shape[0]
    missing = [p for p in parents if p not in properties]
    if missing:
        raise InputValidationError(
            expected_got("properties", f"values for {list(parents)}", sorted(properties))
        )
    for name in parents:
        if np.shape(properties[name]) != (n,):
            raise ShapeError(
                expected_got(f"property {name!r}", f"shape ({n},)", np.shape(properties[name]))
            )
    if n < 2:
        raise InputValidationError(expected_got("number of training galaxies", ">= 2", n))

    device = resolve_device(config.device)
    # small convolutions on a shared CPU: one intra-op thread is ~5x cheaper in CPU time
    # than two (no OpenMP barrier spinning when other processes hold the cores)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    perm = torch.randperm(n, generator=gen)
    n_val = round(config.validation_fraction * n)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    tr = train_idx.numpy()
    prop_scaler = PropertyScaler.fit(
        {k: np.asarray(properties[k])[tr] for k in parents}, names=list(parents), positive=positive
    )
    img_scaler = ImageScaler.fit(x_np[tr])
    init = None
    if config.init_from is not None:  # warm start: its scalers, so its weights mean the same
        from acie.deepscm.checkpoint import load_checkpoint

        init = load_checkpoint(config.init_from)
        if init.properties.names != list(parents) or init.images.shape != x_np.shape[1:]:
            raise InputValidationError(
                expected_got(
                    "init_from",
                    f"a checkpoint over {list(parents)} with images {x_np.shape[1:]}",
                    f"{init.properties.names} with images {init.images.shape}",
                )
            )
        prop_scaler, img_scaler = init.properties, init.images
    x = torch.from_numpy(np.asarray(img_scaler.forward(x_np), dtype=np.float32)).to(device)
    s = torch.from_numpy(prop_scaler.encode(properties)).to(device)

    model_cfg = DeepSCMConfig(
        parents={k: list(v) for k, v in parents.items()},
        image_shape=tuple(x_np.shape[1:]),
        latent_dim=config.latent_dim,
        width=config.width,
        mechanism=config.mechanism,
        mechanism_hidden=config.mechanism_hidden,
        mixtures=dict(config.mixtures),
        decoder=config.decoder,
        pixel_noise=config.pixel_noise,
        image_stretch={
            "softening": list(img_scaler.softening),
            "mean": list(img_scaler.mean),
            "std": list(img_scaler.std),
        },
    )
    model = DeepSCM(model_cfg).to(device)
    meta_init = _initialise(model, init, config, x[train_idx[:512].to(device)])
    if config.mechanism_prefit_epochs:
        _prefit_mechanisms(model, s[train_idx.to(device)], config.mechanism_prefit_epochs, gen)
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)

    history: list[dict[str, float]] = []
    meta = {
        "train_config": asdict(config),
        "n_train": int(train_idx.numel()),
        "n_validation": int(n_val),
        **meta_init,
        **dict(metadata or {}),
    }
    t_total = 0.0
    version = ""
    ckpt = out / "model.pt"
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        order = train_idx[torch.randperm(train_idx.numel(), generator=gen)].to(device)
        with tqdm(
            total=order.numel(),
            desc=f"epoch {epoch}/{config.epochs}",
            unit="gal",
            disable=not config.progress,
            leave=False,
        ) as bar:
            tr_loss = _epoch_losses(
                model, x, s, order, config, prop_scaler, physics_penalty, gen, opt, bar
            )
        sched.step()
        dt = time.perf_counter() - t0
        t_total += dt
        row = {"epoch": epoch, "seconds": dt, **{f"train_{k}": v for k, v in tr_loss.items()}}
        if n_val:
            model.eval()
            va = _epoch_losses(
                model,
                x,
                s,
                val_idx.to(device),
                config,
                prop_scaler,
                physics_penalty,
                gen,
                None,
                None,
            )
            row.update({f"val_{k}": v for k, v in va.items()})
        history.append(row)
        if config.progress:
            tqdm.write(
                f"epoch {epoch}: train loss {row['train_loss']:.1f} nats/galaxy"
                + (f", validation {row['val_loss']:.1f}" if n_val else "")
                + f" ({dt:.1f} s)"
            )
        model.eval()
        meta_now = {**meta, "epoch": epoch, "history": history}
        if config.keep_epoch_checkpoints:
            save_checkpoint(
                out / f"epoch-{epoch:03d}.pt",
                model=model,
                properties=prop_scaler,
                images=img_scaler,
                metadata=meta_now,
            )
        version = save_checkpoint(
            ckpt, model=model, properties=prop_scaler, images=img_scaler, metadata=meta_now
        )
        _write_json_atomic(out / "history.json", {"model_version": version, "history": history})
    model.eval()
    return TrainResult(
        checkpoint=ckpt,
        model_version=version,
        history=history,
        seconds_per_epoch=t_total / config.epochs,
        device=str(device),
    )
