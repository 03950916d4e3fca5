"""``acie embed``: train the contrastive galaxy embedder and measure its quality.

``acie embed train`` simulates galaxies, renders views of each and trains the encoder
with NT-Xent (:mod:`acie.embedding.training`), then writes an embedder file whose
version is its SHA-256. ``acie embed study`` runs the quality study of
:mod:`acie.embedding.study`: kNN regression of physical properties from neighbours for
the embedder, an autoencoder trained on the same data and budget, and the deep SCM's
encoder features, plus recall@10 of the in-process index against exact search.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import numpy as np

    from acie.galaxy.batch import GalaxyBatch

__all__ = ["app"]

app = typer.Typer(
    help="The contrastive galaxy embedder: train it, measure it.", no_args_is_help=True
)

SeedOpt = Annotated[int, typer.Option(help="Seeds the galaxies, views, weights and batches.")]
ThreadsOpt = Annotated[int, typer.Option(min=1, help="torch intra-op CPU threads.")]


def _train_config(**kw: object):
    from acie.embedding.training import TrainConfig

    return TrainConfig(**kw)  # type: ignore[arg-type]


@app.command("train")
def train(
    out: Annotated[Path, typer.Option(help="Embedder file to write (.pt).")],
    n_train: Annotated[int, typer.Option(min=2, help="Simulated training galaxies.")] = 4000,
    n_views: Annotated[int, typer.Option(min=2, help="Rendered views per galaxy.")] = 3,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 600,
    batch: Annotated[int, typer.Option(min=2, help="Galaxies per step (two views each).")] = 128,
    dim: Annotated[int, typer.Option(min=1, help="Length of the vectors.")] = 32,
    temperature: Annotated[float, typer.Option(help="NT-Xent temperature.")] = 0.2,
    lr: Annotated[float, typer.Option(help="Peak AdamW learning rate.")] = 2e-3,
    seed: SeedOpt = 0,
    threads: ThreadsOpt = 1,
    objective: Annotated[
        str, typer.Option(help="contrastive (NT-Xent) or autoencoder (the study's baseline).")
    ] = "contrastive",
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Train the contrastive embedder on simulated galaxies and write it to OUT."""
    from acie.embedding.autoencoder import train_autoencoder
    from acie.embedding.training import embedder_from, simulate_views, train_contrastive
    from acie.errors import UnknownNameError

    trainers = {"contrastive": train_contrastive, "autoencoder": train_autoencoder}
    if objective not in trainers:
        raise UnknownNameError(f"--objective must be contrastive or autoencoder; got {objective!r}")

    cfg = _train_config(
        n_train=n_train,
        n_views=n_views,
        steps=steps,
        batch=batch,
        dim=dim,
        temperature=temperature,
        lr=lr,
        seed=seed,
        threads=threads,
    )
    t0 = time.perf_counter()
    views, _ = simulate_views(cfg)
    t_sim = time.perf_counter() - t0

    def show(step: int, total: int, loss: float) -> None:
        if progress and (step % 20 == 0 or step == total):
            typer.echo(f"step {step}/{total} loss {loss:.4f}", err=True)

    result = trainers[objective](cfg, views, progress=show)
    emb = embedder_from(result, views, cfg.dim)
    losses = result.losses
    head = max(1, len(losses) // 20)
    meta = {
        "command": "acie embed train " + " ".join(sys.argv[3:]),
        "config": cfg.to_dict(),
        "objective": objective,
        "loss_first": float(sum(losses[:head]) / head),
        "loss_last": float(sum(losses[-head:]) / head),
        "loss_every_20": [float(x) for x in losses[::20]],
        "seconds_simulate": round(t_sim, 1),
        "seconds_train": round(result.seconds, 1),
        "parameters": int(sum(p.numel() for p in emb.encoder.parameters())),
    }
    version = emb.save(out, meta)
    typer.echo(
        json.dumps(
            {
                "out": str(out),
                "version": version,
                "dim": emb.dim,
                **{
                    k: meta[k]
                    for k in (
                        "loss_first",
                        "loss_last",
                        "seconds_simulate",
                        "seconds_train",
                        "parameters",
                    )
                },
            }
        )
    )


def _index_recall(vectors: np.ndarray, queries: np.ndarray, k: int, seed: int) -> dict[str, object]:
    """Recall@k and p50 latency of the in-process index (FAISS IVF) against exact search."""
    import numpy as np

    from acie.embedding.quality import recall_at_k
    from acie.store.vectors.memory import MemoryVectorIndex

    index = MemoryVectorIndex(dim=vectors.shape[1], ivf_min_size=1, seed=seed)
    index.add(None, vectors, [{} for _ in range(len(vectors))])
    info = index.build()
    found, _ = index.search_many(queries, k)
    truth, _ = index.search_many(queries, k, exact=True)
    lat, lat_exact = [], []
    for q in queries[:200]:
        t = time.perf_counter()
        index.search(q, k)
        lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.search(q, k, exact=True)
        lat_exact.append(time.perf_counter() - t)
    return {
        "n": len(vectors),
        "dim": int(vectors.shape[1]),
        "index": f"FAISS IVFFlat nlist={index.nlist_} nprobe={index.nprobe_}",
        "build": {k_: v for k_, v in info.items() if isinstance(v, (int, float, str))},
        "recall_at_10": recall_at_k(found, truth),
        "p50_ms": float(np.median(lat) * 1e3),
        "exact_p50_ms": float(np.median(lat_exact) * 1e3),
        "queries": len(queries),
    }


def _render(n: int, seed: int) -> list[GalaxyBatch]:
    """``n`` simulated galaxies, in batches of 1000 with seeds ``seed, seed + 1000, ...``."""
    from acie.galaxy.simulator import GalaxySimulator

    parts = [GalaxySimulator().sample(min(1000, n - s), seed=seed + s) for s in range(0, n, 1000)]
    return parts


@app.command("study")
def study(
    out: Annotated[Path, typer.Option(help="Folder for report.json and REPORT.md.")],
    embedder: Annotated[
        Path | None, typer.Option(help="Embedder file (default: the shipped one).")
    ] = None,
    n_reference: Annotated[int, typer.Option(min=10, help="Reference galaxies.")] = 4000,
    n_query: Annotated[int, typer.Option(min=10, help="Held-out query galaxies.")] = 1000,
    n_index: Annotated[int, typer.Option(min=0, help="Vectors for the recall test.")] = 20000,
    k: Annotated[int, typer.Option(min=1, help="Neighbours.")] = 10,
    dims: Annotated[str, typer.Option(help="Dimensions of the scan.")] = "4,8,16,32,64,128",
    n_boot: Annotated[int, typer.Option(min=2, help="Bootstrap resamples.")] = 200,
    seed: Annotated[int, typer.Option(help="Simulator seed of the evaluation galaxies.")] = 1000,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Autoencoder baseline file (acie embed train --objective autoencoder)."),
    ] = None,
    skip_baseline: Annotated[
        bool, typer.Option("--skip-baseline", help="Leave the autoencoder out of the study.")
    ] = False,
    autoencoder_steps: Annotated[
        int | None,
        typer.Option(help="Baseline steps when it is trained here (default: the embedder's)."),
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Folder to keep the simulated galaxies in for re-runs.")
    ] = None,
    threads: ThreadsOpt = 1,
) -> None:
    """Measure the embedder against an autoencoder and the deep SCM encoder; index recall.

    Galaxies are simulated in chunks of 1000, chunk i with seed SEED + 1000 i for the
    reference set, SEED + 10^6 + 1000 i for the queries and SEED + 2·10^6 + 1000 i for
    the index; none is the training seed (0).
    """
    import dataclasses

    import numpy as np

    from acie._files import atomic_output
    from acie.deepscm.engine import load_default_model
    from acie.embedding.autoencoder import train_autoencoder
    from acie.embedding.embedder import Embedder, load_default_embedder, load_embedder
    from acie.embedding.study import compare, dimension_scan, property_targets, report_markdown
    from acie.embedding.training import TrainConfig, simulate_views

    t0 = time.perf_counter()
    emb = (
        load_embedder(embedder, threads=threads)
        if embedder
        else load_default_embedder(threads=threads)
    )
    cfg_d = dict(emb.metadata.get("config", {}))
    cfg_d["bands"] = tuple(cfg_d.get("bands", ("g", "r", "i")))
    cfg = TrainConfig(**{**cfg_d, "threads": threads})
    if autoencoder_steps is not None:
        cfg = dataclasses.replace(cfg, steps=autoencoder_steps)

    def batches(n: int, s0: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
        file = None if cache is None else cache / f"galaxies_{n}_{s0}.npz"
        if file is not None and file.is_file():
            with np.load(file) as f:
                return f["images"], f["y"], [str(x) for x in f["names"]]
        parts = _render(n, s0)
        ys = [property_targets(p) for p in parts]
        out = (
            np.concatenate([p.images for p in parts]),
            np.concatenate([y for _, y in ys]),
            ys[0][0],
        )
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(file) as tmp, tmp.open("wb") as fh:
                np.savez(fh, images=out[0], y=out[1], names=np.array(out[2]))
        return out

    ref_img, ref_y, names = batches(n_reference, seed)
    q_img, q_y, _ = batches(n_query, seed + 10**6)
    typer.echo(f"simulated {len(ref_img)} + {len(q_img)} galaxies", err=True)
    ref_f, q_f = emb.features(ref_img), emb.features(q_img)
    model = load_default_model(threads=threads)
    dscm_r, dscm_q = model.encoder_features(ref_img), model.encoder_features(q_img)
    ae_emb: Embedder | None = None
    ae_info: dict[str, Any] | None = None
    if skip_baseline:
        pass
    elif baseline is not None:
        ae_emb = load_embedder(baseline, threads=threads)
        ae_info = {
            k_: ae_emb.metadata.get(k_)
            for k_ in ("objective", "config", "loss_last", "seconds_train")
        }
        ae_info["version"] = ae_emb.version
    else:
        views, _ = simulate_views(cfg)
        typer.echo(f"training the autoencoder baseline ({cfg.steps} steps)", err=True)
        ae = train_autoencoder(cfg, views)
        del views
        ae_emb = Embedder(
            ae.encoder, ae.softening, np.zeros(cfg.feature_dim), np.eye(cfg.feature_dim)
        )
        ae_info = {
            "objective": "autoencoder",
            "config": cfg.to_dict(),
            "loss_last": ae.losses[-1],
            "seconds_train": ae.seconds,
        }
    reps = {
        f"contrastive (shipped, d = {emb.dim})": (emb.project(ref_f), emb.project(q_f), "l2"),
        f"contrastive (shipped, d = {emb.dim}, cosine)": (
            emb.project(ref_f),
            emb.project(q_f),
            "cosine",
        ),
        "deep SCM encoder features": (dscm_r, dscm_q, "l2"),
    }
    if ae_emb is not None:
        reps[f"autoencoder bottleneck (d = {ae_emb.config.feature_dim})"] = (
            ae_emb.features(ref_img),
            ae_emb.features(q_img),
            "l2",
        )
    common: dict[str, Any] = {"k": k, "n_boot": n_boot, "seed": seed}
    report: dict[str, Any] = {
        "embedder_version": emb.version,
        "targets": names,
        "k": k,
        "n_reference": len(ref_img),
        "n_query": len(q_img),
        "seed": seed,
        "n_boot": n_boot,
        "embedder": {
            k_: emb.metadata.get(k_)
            for k_ in ("command", "config", "loss_first", "loss_last", "seconds_train")
        },
        "autoencoder": ae_info,
        "representations": compare(reps, ref_y, q_y, names, **common),
        "dimension_scan": dimension_scan(
            emb.project,
            ref_f,
            q_f,
            ref_y,
            q_y,
            names,
            [int(d) for d in dims.split(",") if int(d) <= ref_f.shape[1]],
            **common,
        ),
    }
    if n_index > 0:
        idx_img = batches(n_index, seed + 2 * 10**6)[0]
        report["index"] = _index_recall(emb.embed(idx_img), emb.embed(q_img), 10, seed)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    with atomic_output(out / "REPORT.md") as tmp:
        tmp.write_text(report_markdown(report))
    typer.echo(report_markdown(report))
