"""Benchmark: scaling of the heavy science on a local Dask cluster, 1 → 2 worker processes.

Run: ``python benchmarks/bench_scaling.py [--quick] [--only WORD[,WORD]]`` (``--only``:
the workloads whose name contains a word, e.g. ``--only embedding,evaluation``). Goal: ≥ 1.8× from 1 to 2 workers
for the halo Monte Carlo scan and the form-factor k-pair blocks on a 2-core machine.

Workloads, each run through :class:`acie.compute.executor.DaskExecutor` on a
``LocalCluster`` of 1 and then 2 worker processes (1 thread each, BLAS/OpenMP pinned to
one thread), and, as the peer in the same process, through the in-process
:class:`~acie.compute.executor.SerialExecutor` (the same tasks without Dask):

- halo scan: σ̄e reach of 16000 SHM draws × 30 masses on the shipped Si table, 8 tasks;
- form-factor blocks: the k-pair blocks of a small silicon run (GTH-SZV, (4,1,1) k-mesh,
  one k-pair per block), bands computed once beforehand;
- galaxy dataset: 1200 galaxies of 32×32 pixels in chunks of 100 (written to a
  temporary file);
- catalogue embedding: 768 simulated 3×64×64 images through the shipped deep SCM
  encoder in batches of 96 (8 tasks; each worker loads the engine once);
- deep SCM evaluation: the 5 default interventions on 100 held-out galaxies (5 tasks).

Every distributed result is checked bit-identical to the in-process one. Then the
per-task scheduler overhead against task size: 2 workers run N CPU-bound tasks of s
seconds each; overhead per task = (wall − N·s/2) / (N/2). The load average before and
after is printed, since the machine may be shared.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def _spin(seconds: float) -> float:
    """A CPU-bound task of ``seconds`` (busy loop; no sleeping, no GIL release)."""
    end = time.perf_counter() + seconds
    x = 0.0
    while time.perf_counter() < end:
        x += 1.0
    return x


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _workloads(quick: bool):
    import astropy.units as u
    from scipy import stats

    from acie.darkmatter.formfactor import dft
    from acie.darkmatter.formfactor.runner import compute_form_factor
    from acie.darkmatter.formfactor.settings import FormFactorSettings
    from acie.darkmatter.formfactor.shipped import shipped_table
    from acie.darkmatter.halo_mc_scan import reach_scan
    from acie.darkmatter.halo_parameters import resolve_halo
    from acie.galaxy.dataset import write_dataset
    from acie.galaxy.simulator import GalaxySimulator

    h = resolve_halo("baxter2021")
    dists = {
        "v0": stats.norm(h.v0.value, 10.0),
        "vesc": stats.norm(h.vesc.value, 30.0),
        "rho": stats.norm(h.rho.value, 0.05),
    }
    si = shipped_table("Si")
    n_draws = 4000 if quick else 16000

    def scan(ex):
        return reach_scan(
            "electron",
            np.geomspace(1.0, 1000.0, 30) * u.MeV,
            1.0 * u.kg * u.yr,
            dists,
            n_draws,
            table=si,
            seed=1,
            base=h,
            signal_limit=2.3,
            ne_threshold=2,
            draws_per_task=n_draws // 8,
            map_tasks=ex,
        ).value

    ff = FormFactorSettings(
        kmesh=(3, 1, 1) if quick else (4, 1, 1),
        basis="gth-szv",
        pseudo="gth-pade",
        xc="lda,vwn",
        ke_cutoff=25.0,
        dq=0.05,
        n_q=80,
        dE=0.25,
        n_E=160,
        conv_tol=1e-9,
        pairs_per_block=1,
    )
    bands = dft.run_dft("Si", ff)

    def blocks(ex):
        return compute_form_factor("Si", ff, bands=bands, progress=False, map_tasks=ex).f2

    sim = GalaxySimulator(image_size=32, seed=0)
    folder = Path(tempfile.mkdtemp())

    def galaxies(ex):
        import h5py

        p = write_dataset(
            folder / "g.h5",
            sim,
            600 if quick else 1200,
            seed=2,
            chunk_size=50 if quick else 100,
            progress=False,
            map_tasks=ex,
        )
        with h5py.File(p) as f:
            return np.asarray(f["images"][:])

    return {
        "halo scan": scan,
        "form-factor blocks": blocks,
        "galaxy dataset": galaxies,
        **_model_workloads(quick),
    }


def _model_workloads(quick: bool):
    import functools
    import json

    from acie.deepscm.engine import load_default_model
    from acie.deepscm.evaluation import evaluate
    from acie.deepscm.worker_engine import EngineRef, encoder_features_task
    from acie.galaxy.simulator import GalaxySimulator
    from acie.store.datasets import embed_batches

    engine = load_default_model()  # one torch thread, as in the workers
    ref = EngineRef.of(engine, shipped=True)
    sim = GalaxySimulator(image_size=64, bands=("g", "r", "i"))
    cube = np.asarray(sim.sample(384 if quick else 768, seed=5).images, np.float32)

    def embedding(ex):
        task = functools.partial(encoder_features_task, engine=ref)
        return embed_batches(task, cube, batch=len(cube) // 8, map_tasks=ex)

    def evaluation(ex):
        rep = evaluate(
            engine, sim, n=50 if quick else 100, seed=9, noise_levels=(0.0,), map_tasks=ex
        )
        return np.array([json.dumps(rep.to_dict(), default=float)])

    return {"catalogue embedding": embedding, "deep SCM evaluation": evaluation}


def _models_only(words: list[str]) -> bool:
    """Whether ``--only`` selects nothing but the deep SCM workloads (skip the DFT set-up)."""
    return all(w in "catalogue embedding" or w in "deep SCM evaluation" for w in words)


def main() -> None:
    """Print the speed-ups and the per-task overhead table."""
    from distributed import Client

    from acie.compute.cluster import start_local_cluster
    from acie.compute.executor import DaskExecutor, SerialExecutor

    quick = "--quick" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
    load0 = os.getloadavg()
    work = (_model_workloads(quick) if only and _models_only(only) else None) or _workloads(quick)
    if only:
        work = {k: v for k, v in work.items() if any(w in k for w in only)}
    serial: dict[str, tuple[float, np.ndarray]] = {}
    for name, fn in work.items():
        fn(SerialExecutor())  # warm caches (tables, lru caches) in this process
        serial[name] = _timed(lambda fn=fn: fn(SerialExecutor()))
    times: dict[int, dict[str, float]] = {}
    overhead: list[tuple[float, int, float]] = []
    for n_workers in (1, 2):
        with (
            start_local_cluster(n_workers, memory_limit="2GiB") as cluster,
            Client(cluster) as client,
        ):
            ex = DaskExecutor(client=client)
            times[n_workers] = {}
            for name, fn in work.items():
                fn(ex)  # warm the workers (imports, caches)
                dt, out = _timed(lambda fn=fn, ex=ex: fn(ex))
                assert np.array_equal(out, serial[name][1]), f"{name}: not bit-identical"
                times[n_workers][name] = dt
            if n_workers == 2:
                for size in (0.0, 0.001, 0.01, 0.1):
                    n = 40 if size >= 0.1 else 200
                    ex.map(_spin, [size] * 4)
                    dt, _ = _timed(lambda n=n, size=size, ex=ex: ex.map(_spin, [size] * n))
                    overhead.append((size, n, (dt - n * size / 2) / (n / 2)))
    load1 = os.getloadavg()
    print(f"load average (1, 5, 15 min): before {load0}, after {load1}; {os.cpu_count()} CPUs")
    print(
        f"{'workload':20s} {'in-process s':>12s} {'1 worker s':>10s} {'2 workers s':>11s}"
        f" {'speed-up 1→2':>12s} {'2 workers vs in-process':>24s}"
    )
    for name in work:
        t1, t2, ts = times[1][name], times[2][name], serial[name][0]
        print(f"{name:20s} {ts:12.2f} {t1:10.2f} {t2:11.2f} {t1 / t2:11.2f}× {ts / t2:23.2f}×")
    print("per-task overhead on 2 workers (CPU-bound tasks):")
    print(f"{'task s':>8s} {'tasks':>6s} {'overhead ms/task':>17s} {'efficiency':>10s}")
    for size, n, oh in overhead:
        eff = size / (size + oh) if size > 0 else 0.0
        print(f"{size:8.3f} {n:6d} {oh * 1e3:17.2f} {eff:10.0%}")


if __name__ == "__main__":
    main()
