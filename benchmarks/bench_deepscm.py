"""Benchmark of the deep SCM: counterfactual latency and throughput, training time.

Peer, measured in the same run: the simulator's exact counterfactual
(``GalaxySimulator.counterfactual``: recompute descendants, re-render with the same
noise), which needs the galaxy's exogenous noise; the deep SCM works from the image.

Goals (issue 5): p95 <= 50 ms for one 64 x 64 image; >= 200 images / s batched.

Stochastic abduction (issue 16): ``--particles 8,32`` also times the counterfactual
``do(M* x 2)`` (a relative intervention) with P particles per galaxy on a batch of
``--particle-batch`` images and prints the extra cost in ms per image per particle
(``--only-particles`` skips everything else).

Usage::

    python benchmarks/bench_deepscm.py [--model PATH] [--device cpu|cuda] [--threads N]
                                       [--repeats 200] [--batch 256] [--train-n 512] [--json]
                                       [--particles 8,32] [--particle-batch 32]
                                       [--only-particles]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time

import numpy as np


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p95_ms": float(np.percentile(a, 95)),
        "mean_ms": float(a.mean()),
    }


def particle_costs(engine, images: np.ndarray, sizes: list[int], repeats: int = 3) -> dict:
    """Wall time of ``do(M* x 2)`` with P particles on ``images``: ms per image per particle."""
    iv = {"log_stellar_mass": {"factor": 2.0}}
    kw = {"physics_tolerance": 0.05, "physics_steps": 50, "per_galaxy": True}
    n = images.shape[0]

    def timed(p: int) -> float:
        engine.counterfactual(images, iv, n_particles=p, **kw)  # warm-up
        t0 = time.perf_counter()
        for _ in range(repeats):
            engine.counterfactual(images, iv, n_particles=p, seed=0, **kw)
        return (time.perf_counter() - t0) * 1e3 / repeats

    base = timed(0)
    out = {"batch": n, "ms_per_image_no_particles": base / n, "particles": {}}
    for p in sizes:
        ms = timed(p)
        out["particles"][str(p)] = {
            "ms_per_image": ms / n,
            "extra_ms_per_image_per_particle": (ms - base) / (n * p),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--train-n", type=int, default=512)
    ap.add_argument("--json", action="store_true", help="print machine-readable results")
    ap.add_argument("--particles", default="8,32", help="particle counts to time ('' = none)")
    ap.add_argument("--particle-batch", type=int, default=32)
    ap.add_argument("--only-particles", action="store_true")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from acie.deepscm.engine import CounterfactualEngine, load_default_model
    from acie.galaxy.simulator import GalaxySimulator

    engine = (
        CounterfactualEngine.from_checkpoint(args.model, device=args.device)
        if args.model
        else load_default_model(device=args.device)
    )
    c, h, _ = engine.image_shape
    bands = tuple(engine.metadata.get("simulator", {}).get("bands", ("g", "r", "i")))[:c]
    sim = GalaxySimulator(image_size=h, bands=bands)
    gal = sim.sample(max(args.batch, 1), seed=2024)
    target = np.clip(gal.properties["log_stellar_mass"] + 0.301, 7.0, 12.5)  # doubled M_*

    def sync() -> None:
        if engine.device.startswith("cuda"):
            torch.cuda.synchronize()

    sizes = [int(v) for v in args.particles.split(",") if v.strip()]
    particles = particle_costs(engine, gal.images[: args.particle_batch], sizes) if sizes else None
    if particles is not None:
        print(
            f"particles on {engine.device} ({torch.get_num_threads()} threads), batch "
            f"{particles['batch']}: no particles {particles['ms_per_image_no_particles']:.2f} "
            "ms/image; "
            + "; ".join(
                f"P={p}: {v['ms_per_image']:.2f} ms/image, "
                f"{v['extra_ms_per_image_per_particle']:.3f} ms/image/particle"
                for p, v in particles["particles"].items()
            ),
            flush=True,
        )
    if args.only_particles:
        if args.json:
            print(json.dumps({"device": engine.device, "particles": particles}, indent=2))
        return

    # -- single image ---------------------------------------------------------------
    one = gal.images[:1]
    for _ in range(5):  # warm-up
        engine.counterfactual(one, {"log_stellar_mass": target[:1]}, physics_tolerance=1e9)
    model_ms, full_ms, sim_ms, model_cpu = [], [], [], []
    for i in range(args.repeats):
        j = i % gal.images.shape[0]
        t0, c0 = time.perf_counter(), time.process_time()
        engine.counterfactual(
            gal.images[j : j + 1],
            {"log_stellar_mass": target[j : j + 1]},
            physics_steps=0,
            physics_tolerance=1e9,
        )
        sync()
        model_ms.append((time.perf_counter() - t0) * 1e3)
        model_cpu.append((time.process_time() - c0) * 1e3)
        t0 = time.perf_counter()
        # with the default physics check and projection; a refusal still costs its time
        with contextlib.suppress(Exception):
            engine.counterfactual(gal.images[j : j + 1], {"log_stellar_mass": target[j : j + 1]})
        sync()
        full_ms.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        sim.counterfactual(gal[j : j + 1], {"log_stellar_mass": target[j : j + 1]})
        sim_ms.append((time.perf_counter() - t0) * 1e3)

    # -- batched ----------------------------------------------------------------------
    x = gal.images[: args.batch]
    engine.counterfactual(x, {"log_stellar_mass": target[: args.batch]}, physics_tolerance=1e9)
    reps = 3
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        engine.counterfactual(
            x, {"log_stellar_mass": target[: args.batch]}, physics_steps=0, physics_tolerance=1e9
        )
    sync()
    model_tp = reps * x.shape[0] / (time.perf_counter() - t0)
    model_cpu_per_image = (time.process_time() - c0) * 1e3 / (reps * x.shape[0])
    t0 = time.perf_counter()
    for _ in range(reps):
        sim.counterfactual(gal[: args.batch], {"log_stellar_mass": target[: args.batch]})
    sim_tp = reps * x.shape[0] / (time.perf_counter() - t0)

    # -- training time per epoch ------------------------------------------------------
    from acie.deepscm.galaxy_data import POSITIVE, model_parents, simulate_training_set
    from acie.deepscm.training import TrainConfig, train
    from acie.galaxy.constraints import penalty

    cfg = engine.metadata.get("train_config", {})
    images, values, _ = simulate_training_set(
        args.train_n, seed=777, image_size=h, bands=bands, progress=False
    )
    with tempfile.TemporaryDirectory() as tmp:
        res = train(
            images=images,
            properties=values,
            parents=model_parents(),
            positive=POSITIVE,
            out_dir=tmp,
            physics_penalty=penalty,
            config=TrainConfig(
                epochs=1,
                seed=0,
                device=args.device,
                progress=False,
                validation_fraction=0.0,
                threads=args.threads or torch.get_num_threads(),
                width=int(cfg.get("width", 16)),
                latent_dim=int(cfg.get("latent_dim", 16)),
                batch_size=int(cfg.get("batch_size", 64)),
            ),
        )
    per_1000 = res.seconds_per_epoch / args.train_n * 1000

    out = {
        "device": engine.device,
        "threads": torch.get_num_threads(),
        "model_version": engine.model_version,
        "image_shape": list(engine.image_shape),
        "load_average_1min": os.getloadavg()[0],
        "single_model_only": _percentiles(model_ms),
        "single_model_only_cpu_ms_p50": float(np.median(model_cpu)),
        "single_with_physics_check": _percentiles(full_ms),
        "single_simulator_exact": _percentiles(sim_ms),
        "batched_images_per_s": {
            "model": model_tp,
            "simulator_exact": sim_tp,
            "batch": int(x.shape[0]),
        },
        "batched_model_cpu_ms_per_image": model_cpu_per_image,
        "training_s_per_epoch_per_1000_galaxies": per_1000,
        "particles": particles,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    s, f, p = (
        out["single_model_only"],
        out["single_with_physics_check"],
        out["single_simulator_exact"],
    )
    print(
        f"deep SCM benchmark on {engine.device} ({torch.get_num_threads()} threads), "
        f"images {tuple(engine.image_shape)}, model {engine.model_version[:12]}"
    )
    print(f"{'':34s}{'p50 ms':>9s}{'p95 ms':>9s}")
    print(f"{'one image, model (no projection)':34s}{s['p50_ms']:9.2f}{s['p95_ms']:9.2f}")
    print(f"{'one image, model + physics check':34s}{f['p50_ms']:9.2f}{f['p95_ms']:9.2f}")
    print(f"{'one image, simulator exact (peer)':34s}{p['p50_ms']:9.2f}{p['p95_ms']:9.2f}")
    print(
        f"p95 goal 50 ms: {'met' if f['p95_ms'] <= 50 else 'NOT met'}; "
        f"model / simulator p50 ratio {s['p50_ms'] / p['p50_ms']:.2f}"
    )
    print(
        f"batched ({x.shape[0]}): model {model_tp:.0f} images/s, simulator {sim_tp:.0f} images/s, "
        f"ratio {model_tp / sim_tp:.2f}; goal 200/s: {'met' if model_tp >= 200 else 'NOT met'}"
    )
    print(
        f"CPU time (this process): one image p50 {out['single_model_only_cpu_ms_p50']:.2f} ms, "
        f"batched {model_cpu_per_image:.2f} ms per image "
        f"(= {1e3 / model_cpu_per_image:.0f} images/s per fully available core)"
    )
    print(f"training: {per_1000:.1f} s per epoch per 1000 galaxies")
    print(
        f"1-min load average during the run: {out['load_average_1min']:.1f} "
        f"on {os.cpu_count()} cores (wall times include waiting for a core)"
    )


if __name__ == "__main__":
    main()
