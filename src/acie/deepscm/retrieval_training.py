"""Training data and training of the retrieval refiner (:mod:`acie.deepscm.retrieval_refiner`).

Everything comes from :class:`acie.galaxy.simulator.GalaxySimulator`, seeded:

* a **reference bank** of simulated galaxies (its own seed) whose features, from the
  index's embedder, stand in for the vector index; neighbours are the exact ``k``
  nearest bank galaxies in Euclidean distance (the index's default ``l2`` metric, what
  the in-process index returns for these vectors);
* **pairs**: held-out galaxies, each with an intervention ``do(node = value)`` (node
  cycled over :data:`INTERVENTIONS`, shift drawn as
  ``±U(0.5, 1.5)`` times the default shift, clipped to the validity range), the deep
  SCM's counterfactual (unprojected, unmarked) and the simulator's exact one (same
  exogenous noise and pixel-noise seed).

The refiner is trained by AdamW on the mean per-galaxy RMS pixel error against the
true counterfactual [sky sigma], high-passed like the refiner's residual, with a random number of neighbours ``k`` in ``1..k_max``
per galaxy (the rest masked) so one model serves every ``k``.

``python -m acie.deepscm.retrieval_training --out DIR`` runs it (``scripts/train_refiner.sh``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from acie.deepscm.retrieval_refiner import RefinerConfig, RefinerNet, high_pass, save_refiner
from acie.errors import InputValidationError, UnknownNameError, expected_got

if TYPE_CHECKING:
    from acie.deepscm.engine import CounterfactualEngine
    from acie.galaxy.batch import GalaxyBatch
    from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "INTERVENTIONS",
    "Bank",
    "Pairs",
    "embedder_named",
    "engine_counterfactuals",
    "engine_embedder",
    "make_bank",
    "make_pairs",
    "sane",
    "train_refiner",
]

Embed = Callable[[np.ndarray], np.ndarray]

#: Interventions node -> shift (node unit): those of the deep SCM report
#: (:data:`acie.deepscm.evaluation.DEFAULT_INTERVENTIONS` when this was written), fixed
#: here so that the refiner's training and ablation do not change with the report.
INTERVENTIONS: dict[str, float] = {
    "log_halo_mass": +0.5,
    "log_stellar_mass": +0.3,
    "log_sfr": -1.0,
    "log_size": +0.2,
    "age": +3.0,
}


def _clip(values: np.ndarray, node: str) -> np.ndarray:
    from acie.galaxy.properties import RANGES

    r = RANGES[node]
    return np.clip(np.asarray(values, dtype=np.float64), r.low + 1e-6, r.high - 1e-6)


def engine_counterfactuals(
    engine: CounterfactualEngine, images: np.ndarray, node: str, values: np.ndarray
) -> np.ndarray:
    """The engine's counterfactuals of ``do(node = values)``: unprojected, unmarked."""
    out = []
    for i in range(0, images.shape[0], 100):
        r = engine.counterfactual(
            images[i : i + 100],
            {node: values[i : i + 100]},
            watermark=False,
            physics_steps=0,
            physics_tolerance=1e9,
        )
        out.append(r.images)
    return np.concatenate(out).astype(np.float32)


def engine_embedder(engine: CounterfactualEngine) -> tuple[Embed, str]:
    """The deep SCM encoder's features as the embedder, and its name."""
    return engine.encoder_features, f"deepscm-encoder:{engine.model_version}"


def embedder_named(kind: str, engine: CounterfactualEngine) -> tuple[Embed, str]:
    """The embedder ``kind`` (``"deepscm-encoder"`` or ``"galaxy-embedder"``) and its name.

    ``deepscm-encoder`` (:func:`engine_embedder`) is what the served index holds today
    (the served model's encoder features); ``galaxy-embedder`` is the shipped contrastive
    embedder of :mod:`acie.embedding`.

    Raises
    ------
    UnknownNameError
        Another ``kind``.
    FileNotFoundError
        ``galaxy-embedder`` without its shipped weights.
    """
    if kind == "deepscm-encoder":
        return engine_embedder(engine)
    if kind != "galaxy-embedder":
        raise UnknownNameError(
            expected_got("embedder", "'deepscm-encoder' or 'galaxy-embedder'", kind)
        )
    from acie.embedding.embedder import EMBEDDER_NAME, load_default_embedder

    emb = load_default_embedder()
    return emb.embed, f"{EMBEDDER_NAME}:{emb.version}"


@dataclass
class Bank:
    """Reference galaxies standing in for the index.

    ``features`` (m, D); ``mean`` and ``std`` (D,) standardise the refiner's input.
    """

    features: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``k`` nearest bank rows (n, k) and distances (n, k) of query features (n, D).

        Euclidean distance of the raw features, the vector index's default ``l2`` metric,
        so training sees the neighbours the served index returns.
        """
        if not 1 <= k <= len(self.features):
            raise InputValidationError(
                expected_got("k", f"an integer in 1..{len(self.features)}", k)
            )
        a = np.asarray(self.features, np.float64)
        q = np.asarray(queries, np.float64)
        d2 = (q**2).sum(1)[:, None] - 2.0 * q @ a.T + (a**2).sum(1)[None, :]
        idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
        return idx, np.sqrt(np.maximum(np.take_along_axis(d2, idx, 1), 0.0))


def make_bank(simulator: GalaxySimulator, embed: Embed, *, n: int, seed: int) -> Bank:
    """Simulate ``n`` reference galaxies with ``seed`` and embed them."""
    x = np.asarray(simulator.sample(n, seed=seed).images, np.float32)
    f = np.concatenate([embed(x[i : i + 256]) for i in range(0, n, 256)]).astype(np.float64)
    return Bank(features=f, mean=f.mean(0), std=f.std(0) + 1e-6)


@dataclass
class Pairs:
    """Counterfactual training/evaluation pairs (one intervention per galaxy)."""

    factual: np.ndarray  # (n, C, H, W) input images [nanomaggies / pixel]
    model: np.ndarray  # deep SCM counterfactual, unprojected, unmarked
    true: np.ndarray  # simulator's exact counterfactual
    node: np.ndarray  # (n,) intervened node
    target: np.ndarray  # (n,) intended value [node unit]
    batches: list[tuple[str, GalaxyBatch, GalaxyBatch]]  # (node, factual, true cf)
    dropped: dict[str, int]  # node -> galaxies left out (engine output not sane)


def sane(model: np.ndarray, factual: np.ndarray, factor: float = 20.0) -> np.ndarray:
    """(n,) bool: the engine's counterfactual is finite and not blown up.

    Its brightest pixel must be at most ``factor`` times the factual's (+ 1) [image
    units]; judged from the engine's input and output only, never from the truth.
    """
    finite = np.isfinite(model).all(axis=(1, 2, 3))
    peak = np.abs(np.nan_to_num(model)).max(axis=(1, 2, 3))
    return finite & (peak <= factor * np.abs(factual).max(axis=(1, 2, 3)) + 1.0)


def make_pairs(
    engine: CounterfactualEngine,
    simulator: GalaxySimulator,
    *,
    n_per_node: int,
    seed: int,
    shifts: dict[str, float] | None = None,
    jitter: bool = True,
) -> Pairs:
    """``n_per_node`` galaxies per intervened node (seed ``seed + 1 + j`` for node j).

    With ``jitter`` the shift is ``±U(0.5, 1.5)`` times the node's shift, else exactly it.
    Galaxies whose engine counterfactual is not :func:`sane` are left out (the deep
    SCM's decoder can blow up far outside its training support).
    """
    shifts = dict(shifts or INTERVENTIONS)
    rng = np.random.default_rng(seed)
    xs, ms, ts, nodes, targets, batches = [], [], [], [], [], []
    dropped = {}
    for j, (node, shift) in enumerate(shifts.items()):
        b = simulator.sample(n_per_node, seed=seed + 1 + j)
        s = np.full(n_per_node, float(shift))
        if jitter:
            s = s * rng.uniform(0.5, 1.5, n_per_node) * rng.choice([-1.0, 1.0], n_per_node)
        target = _clip(np.asarray(b.properties[node]) + s, node)
        tcf = simulator.counterfactual(b, {node: target})
        x = np.asarray(b.images, np.float32)
        model = engine_counterfactuals(engine, x, node, target)
        keep = np.flatnonzero(sane(model, x))
        dropped[node] = n_per_node - len(keep)
        b, tcf, x, model, target = b[keep], tcf[keep], x[keep], model[keep], target[keep]
        xs.append(x)
        ms.append(model)
        ts.append(np.asarray(tcf.images, np.float32))
        nodes += [node] * len(keep)
        targets.append(target)
        batches.append((node, b, tcf))
    return Pairs(
        factual=np.concatenate(xs),
        model=np.concatenate(ms),
        true=np.concatenate(ts),
        node=np.asarray(nodes),
        target=np.concatenate(targets),
        batches=batches,
        dropped=dropped,
    )


def train_refiner(
    pairs: Pairs,
    neighbour_features: np.ndarray,
    config: RefinerConfig,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 32,
    lr: float = 2e-3,
    val_fraction: float = 0.1,
    log: Callable[[str], None] = print,
) -> tuple[RefinerNet, dict[str, object]]:
    """Train a :class:`RefinerNet` on ``pairs`` with neighbour features (n, k_max, D).

    Returns the network (best validation epoch) and its history: per epoch the mean
    per-galaxy RMS of the high-passed error (modes above ``config.cutoff``) [sky sigma]
    of the training and validation sets, and beside it the
    plain model's error on the validation set (the refiner must go below it).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n, k_max = neighbour_features.shape[:2]
    perm = rng.permutation(n)
    n_val = max(1, round(val_fraction * n))
    val, tr = perm[:n_val], perm[n_val:]
    sig = torch.tensor(config.sigma, dtype=torch.float32).view(1, -1, 1, 1)
    x = torch.from_numpy(pairs.model)
    y = torch.from_numpy(pairs.true)
    f = torch.from_numpy(neighbour_features.astype(np.float32))
    net = RefinerNet(config)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=epochs * -(-tr.size // batch_size)
    )

    def masks(rows: np.ndarray, r: np.random.Generator) -> torch.Tensor:
        k = r.integers(1, k_max + 1, rows.size)
        return torch.from_numpy(np.arange(k_max)[None, :] < k[:, None])

    def mse(rows: np.ndarray, m: torch.Tensor) -> torch.Tensor:
        # only the high-passed error can change (the residual is high-passed): the rest
        # is a constant that would hide the refiner's effect in the reported numbers.
        # The mean of per-galaxy RMS (not the MSE) keeps a few galaxies far outside the
        # deep SCM's support from dominating.
        out = net(x[rows], f[rows], m)
        e = high_pass((out - y[rows]) / sig, config.cutoff)
        return torch.sqrt((e**2).mean(dim=(1, 2, 3)) + 1e-12).mean()

    val_masks = masks(val, np.random.default_rng(seed + 1))
    plain = float(
        torch.sqrt(
            (high_pass((x[val] - y[val]) / sig, config.cutoff) ** 2).mean(dim=(1, 2, 3))
        ).mean()
    )
    best, best_state, hist = np.inf, None, []
    for ep in range(epochs):
        t0 = time.perf_counter()
        net.train()
        order, tot = rng.permutation(tr), 0.0
        for i in range(0, order.size, batch_size):
            rows = order[i : i + batch_size]
            loss = mse(rows, masks(rows, rng))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach()) * rows.size
        net.eval()
        with torch.no_grad():
            v = float(
                sum(
                    float(mse(val[i : i + 128], val_masks[i : i + 128])) * val[i : i + 128].size
                    for i in range(0, val.size, 128)
                )
                / val.size
            )
        hist.append(
            {
                "epoch": ep,
                "train_mse": tot / tr.size,
                "val_mse": v,
                "seconds": time.perf_counter() - t0,
            }
        )
        log(f"epoch {ep}: train {tot / tr.size:.4f} val {v:.4f} (plain {plain:.4f}) sigma")
        if v < best:
            best, best_state = v, {k: t.clone() for k, t in net.state_dict().items()}
    assert best_state is not None
    net.load_state_dict(best_state)
    return net.eval(), {"history": hist, "val_mse_plain": plain, "val_mse_best": best}


def main(argv: list[str] | None = None) -> None:
    """Train the shipped refiner: ``python -m acie.deepscm.retrieval_training --out DIR``."""
    from acie.deepscm.engine import load_default_model
    from acie.galaxy.simulator import GalaxySimulator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-per-node", type=int, default=500)
    ap.add_argument("--bank", type=int, default=2000)
    ap.add_argument("--k-max", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument(
        "--embedder", choices=("deepscm-encoder", "galaxy-embedder"), default="deepscm-encoder"
    )
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    engine = load_default_model(threads=1)
    embed, name = embedder_named(args.embedder, engine)
    sim = GalaxySimulator(image_size=engine.image_shape[1], seed=args.seed)
    bank = make_bank(sim, embed, n=args.bank, seed=10_000 + args.seed)
    pairs = make_pairs(engine, sim, n_per_node=args.n_per_node, seed=20_000 + args.seed)
    idx, _ = bank.nearest(embed(pairs.factual), args.k_max)
    feats = bank.features[idx]
    cfg = RefinerConfig(
        image_shape=engine.image_shape,
        feature_dim=bank.features.shape[1],
        sigma=[float(s) for s in engine.noise_sigma],
        feature_mean=bank.mean.tolist(),
        feature_std=bank.std.tolist(),
        embedder=name,
        width=args.width,
    )
    net, info = train_refiner(pairs, feats, cfg, epochs=args.epochs, seed=args.seed)
    meta = {
        "command": "python -m acie.deepscm.retrieval_training "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "args": vars(args),
        "deepscm_version": engine.model_version,
        "simulator": sim.config(),
        "bank": {"n": args.bank, "seed": 10_000 + args.seed},
        "pairs": {
            "n_per_node": args.n_per_node,
            "seed": 20_000 + args.seed,
            "dropped": pairs.dropped,
        },
        "wall_seconds": time.perf_counter() - t0,
        **info,
    }
    from pathlib import Path

    out = Path(args.out)
    version = save_refiner(out / "refiner.pt", net, meta)
    (out / "training.json").write_text(json.dumps({"version": version, **meta}, indent=2))
    print(json.dumps({"refiner": str(out / "refiner.pt"), "version": version}))


if __name__ == "__main__":
    main()
