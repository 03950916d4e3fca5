"""Benchmark: kNN recall@10 and latency per vector backend, and job throughput per queue.

Run: ``python benchmarks/bench_platform.py [--n 100000] [--dim 128] [--queries 200]``
(``--n 20000`` for a quick run). Needs PostgreSQL with pgvector and Redis for the
production backends (``--pg-url`` admin URL, ``--redis-url``); a missing server skips
that backend with a message.

Vectors: ``n × dim`` float32 points in ``--clusters`` Gaussian clusters (seed 0); the
queries are fresh draws from the same clusters. The peer is exact search measured in
the same run: numpy brute force (the ground truth of recall@10) and each backend's own
exact mode (memory: numpy; pgvector: sequential scan). For each approximate setting
the script prints recall@10, the median and p95 single-query latency [ms], and the
speed-up over the same backend's exact search. Results go to ``--out``
(``platform.json`` and ``platform_recall_latency.png``).

Jobs: ``--jobs`` no-op jobs submitted, then drained by one in-process worker, for the
SQL lease table on SQLite, on PostgreSQL, and the Redis Streams queue (jobs/s). The
SQLite queue commits its writes with ``synchronous=FULL`` (fsynced, safe on power loss);
it runs once more with ``synchronous=NORMAL`` to show what FULL costs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from acie.store import create_engine_for, migrate
from acie.store.registry import ensure_model
from acie.store.vectors import MemoryVectorIndex, PgVectorIndex


def clustered(n: int, dim: int, clusters: int, n_queries: int, sigma: float, seed: int = 0):
    """Clustered data and queries (fresh draws from the same clusters).

    Centres ~ N(0, 1) per axis; points scatter around them with per-axis σ = ``sigma``.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.0, size=(clusters, dim))
    lab = rng.integers(0, clusters, size=n)
    x = centres[lab] + rng.normal(scale=sigma, size=(n, dim))
    qlab = rng.integers(0, clusters, size=n_queries)
    q = centres[qlab] + rng.normal(scale=sigma, size=(n_queries, dim))
    meta = [{"redshift": float(z)} for z in rng.uniform(0.0, 3.0, size=n)]
    return x.astype(np.float32), q.astype(np.float32), meta


def exact_topk(x: np.ndarray, q: np.ndarray, k: int, chunk: int = 256) -> np.ndarray:
    """Ground truth by numpy brute force (float64 accumulation)."""
    xx = np.einsum("ij,ij->i", x, x, dtype=np.float64)
    out = np.empty((len(q), k), dtype=np.int64)
    for s in range(0, len(q), chunk):
        qc = q[s : s + chunk].astype(np.float64)
        d2 = xx[None, :] - 2.0 * qc @ x.T.astype(np.float64) + (qc * qc).sum(1)[:, None]
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        rows = np.arange(len(qc))[:, None]
        out[s : s + chunk] = part[rows, np.argsort(d2[rows, part], axis=1)]
    return out


def timed_queries(search, queries: np.ndarray) -> tuple[list[list[Any]], np.ndarray]:
    hits, lat = [], []
    for qv in queries:
        t0 = time.perf_counter()
        hits.append([h.id for h in search(qv)])
        lat.append((time.perf_counter() - t0) * 1e3)
    return hits, np.asarray(lat)


def recall(hits: list[list[Any]], truth_ids: list[list[Any]], k: int) -> float:
    return float(
        np.mean(
            [
                len(set(h[:k]) & set(t)) / k
                for h, t in zip(hits, truth_ids[: len(hits)], strict=True)
            ]
        )
    )


def row(
    name: str, setting: str, rec: float, lat: np.ndarray, exact_med: float | None
) -> dict[str, Any]:
    med = float(np.median(lat))
    return {
        "backend": name,
        "setting": setting,
        "recall_at_10": rec,
        "median_ms": med,
        "p95_ms": float(np.percentile(lat, 95)),
        "speedup_vs_exact": (exact_med / med) if exact_med else None,
    }


def bench_memory(x, q, meta, truth, k, args) -> list[dict[str, Any]]:
    out = []
    index = MemoryVectorIndex(dim=x.shape[1], ivf_min_size=1)
    ids = index.add(None, x, meta)
    truth_ids = [[ids[i] for i in t] for t in truth]
    hits, lat = timed_queries(lambda v: index.search(v, k, exact=True), q[: args.exact_queries])
    exact_med = float(np.median(lat))
    out.append(row("memory", "exact (numpy)", recall(hits, truth_ids, k), lat, exact_med))
    t0 = time.perf_counter()
    info = index.build()
    print(f"  memory IVF build: nlist={info['nlist']} in {time.perf_counter() - t0:.1f} s")
    for nprobe in args.nprobe:
        index.nprobe_ = min(nprobe, info["nlist"])
        hits, lat = timed_queries(lambda v: index.search(v, k), q)
        out.append(
            row(
                "memory",
                f"faiss IVF nlist={info['nlist']} nprobe={nprobe}",
                recall(hits, truth_ids, k),
                lat,
                exact_med,
            )
        )
    # a selective filter (redshift > 2.85, 5 % of rows) must still give k rows
    hits, lat = timed_queries(
        lambda v: index.search(v, k, filters={"redshift": {">": 2.85}}), q[:50]
    )
    out.append(
        {
            **row("memory", "IVF + filter redshift>2.85", float("nan"), lat, None),
            "rows_returned_min": min(len(h) for h in hits),
        }
    )
    return out


def bench_pgvector(x, q, meta, truth, k, args) -> list[dict[str, Any]]:
    import psycopg
    from sqlalchemy import make_url

    admin = make_url(args.pg_url)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"acie_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )
    out = []
    try:
        migrate(url)
        engine = create_engine_for(url)
        mid = ensure_model(engine, "bench", "0" * 64)
        index = PgVectorIndex(engine=engine, model_id=mid, dim=x.shape[1], lists=args.lists)
        t0 = time.perf_counter()
        ids = []
        step = 10_000
        for s in tqdm(range(0, len(x), step), desc="  pgvector insert", leave=False, disable=None):
            ids += index.add(None, x[s : s + step], meta[s : s + step])
        print(f"  pgvector insert: {len(x)} rows in {time.perf_counter() - t0:.1f} s")
        truth_ids = [[ids[i] for i in t] for t in truth]
        hits, lat = timed_queries(lambda v: index.search(v, k, exact=True), q[: args.exact_queries])
        exact_med = float(np.median(lat))
        out.append(row("pgvector", "exact (seq scan)", recall(hits, truth_ids, k), lat, exact_med))
        t0 = time.perf_counter()
        info = index.build()
        print(
            f"  pgvector IVFFlat build: lists={info['lists']} in {time.perf_counter() - t0:.1f} s"
        )
        for probes in args.probes:
            index.probes = probes
            hits, lat = timed_queries(lambda v: index.search(v, k), q)
            out.append(
                row(
                    "pgvector",
                    f"IVFFlat lists={info['lists']} probes={probes}",
                    recall(hits, truth_ids, k),
                    lat,
                    exact_med,
                )
            )
        index.probes = None
        hits, lat = timed_queries(
            lambda v: index.search(v, k, filters={"redshift": {">": 2.85}}), q[:50]
        )
        out.append(
            {
                **row(
                    "pgvector",
                    "IVFFlat + filter redshift>2.85 (iterative scan)",
                    float("nan"),
                    lat,
                    None,
                ),
                "rows_returned_min": min(len(h) for h in hits),
            }
        )
        if args.hnsw:
            hnsw = PgVectorIndex(engine=engine, model_id=mid, dim=x.shape[1], kind="hnsw")
            t0 = time.perf_counter()
            hnsw.build()
            print(f"  pgvector HNSW build in {time.perf_counter() - t0:.1f} s")
            hits, lat = timed_queries(lambda v: hnsw.search(v, k), q)
            out.append(
                row(
                    "pgvector", "HNSW m=16 ef_search=40", recall(hits, truth_ids, k), lat, exact_med
                )
            )
        engine.dispose()
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return out


def bench_jobs(args) -> list[dict[str, Any]]:
    from acie.jobs import RedisJobQueue, SQLiteJobQueue, Worker

    results = []
    backends: list[tuple[str, Any]] = []
    tmp = tempfile.mkdtemp(prefix="acie-bench-")
    sqlite_url = f"sqlite:///{tmp}/jobs.sqlite3"
    migrate(sqlite_url)
    backends.append(
        (
            "sql lease table (SQLite)",
            lambda: SQLiteJobQueue(create_engine_for(sqlite_url), max_depth=10 * args.jobs),
        )
    )

    def sqlite_normal() -> Any:
        # the same queue committing with synchronous=NORMAL: what FULL costs
        q = SQLiteJobQueue(create_engine_for(sqlite_url), max_depth=10 * args.jobs)
        q.sqlite_synchronous = "NORMAL"
        return q

    backends.append(("sql lease table (SQLite, NORMAL)", sqlite_normal))
    pg = _pg_database(args)
    if pg is not None:
        migrate(pg[0])
        backends.append(
            (
                "sql lease table (PostgreSQL)",
                lambda: SQLiteJobQueue(create_engine_for(pg[0]), max_depth=10 * args.jobs),
            )
        )
    if _redis_ok(args.redis_url):
        backends.append(
            (
                "Redis Streams (+ SQLite rows)",
                lambda: RedisJobQueue(
                    create_engine_for(sqlite_url),
                    args.redis_url,
                    stream=f"acie-bench-{uuid.uuid4().hex[:8]}",
                    max_depth=10 * args.jobs,
                ),
            )
        )
    try:
        for name, make in backends:
            q = make()
            t0 = time.perf_counter()
            for i in tqdm(range(args.jobs), desc=f"  submit {name}", leave=False, disable=None):
                q.submit(f"{name}-{i}-{uuid.uuid4().hex[:6]}", {"i": i})
            t_submit = time.perf_counter() - t0
            w = Worker(q, lambda job: {"i": job.payload["i"]}, heartbeat=False)
            t0 = time.perf_counter()
            done = w.run(max_jobs=args.jobs, poll_s=0.2)
            t_drain = time.perf_counter() - t0
            assert done == args.jobs
            assert q.counts()["COMPLETE"] >= args.jobs
            results.append(
                {
                    "backend": name,
                    "jobs": args.jobs,
                    "submit_per_s": args.jobs / t_submit,
                    "process_per_s": args.jobs / t_drain,
                }
            )
            if isinstance(q, RedisJobQueue):
                q.drop_streams()
            q.close()
            q.engine.dispose()
    finally:
        if pg is not None:
            pg[1]()
    return results


def _pg_database(args):
    try:
        import psycopg
        from sqlalchemy import make_url

        admin = make_url(args.pg_url)
        conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
        name = f"acie_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as err:  # the server is optional for a quick local run
        print(f"  PostgreSQL unavailable, skipped: {err}")
        return None

    def drop() -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )
    return url, drop


def _redis_ok(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception as err:
        print(f"  Redis unavailable, skipped: {err}")
        return False


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    for backend, colour in (("memory", "C0"), ("pgvector", "C1")):
        mine = [r for r in rows if r["backend"] == backend and not np.isnan(r["recall_at_10"])]
        sweep = [r for r in mine if "probe" in r["setting"]]  # IVF nprobe / probes sweep
        if sweep:
            ax.plot(
                [r["median_ms"] for r in sweep],
                [r["recall_at_10"] for r in sweep],
                marker="o",
                color=colour,
                label=f"{backend} IVF (probes sweep)",
            )
        for r in mine:
            if r["setting"].startswith("exact"):
                ax.plot(
                    r["median_ms"],
                    r["recall_at_10"],
                    marker="*",
                    ms=12,
                    ls="none",
                    color=colour,
                    label=f"{backend} exact",
                )
            elif r["setting"].startswith("HNSW"):
                ax.plot(
                    r["median_ms"],
                    r["recall_at_10"],
                    marker="D",
                    ls="none",
                    color=colour,
                    label=f"{backend} HNSW",
                )
    ax.set_xscale("log")
    ax.set_xlabel("median single-query latency [ms]")
    ax.set_ylabel("recall@10 [fraction]")
    ax.set_title("kNN on clustered vectors: recall vs latency")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=300)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="number of vectors")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--clusters", type=int, default=100)
    p.add_argument("--sigma", type=float, default=0.5, help="per-axis cluster spread")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument(
        "--exact-queries", type=int, default=50, help="queries timed with exact search (slow)"
    )
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--nprobe", type=int, nargs="+", default=[1, 4, 8, 16, 32])
    p.add_argument("--lists", type=int, default=None, help="pgvector lists (default n/1000)")
    p.add_argument("--probes", type=int, nargs="+", default=[1, 5, 10, 20])
    p.add_argument("--hnsw", action="store_true", help="also build and query an HNSW index")
    p.add_argument("--jobs", type=int, default=500, help="jobs per queue backend")
    p.add_argument("--skip", nargs="*", default=[], choices=["memory", "pgvector", "jobs"])
    p.add_argument(
        "--pg-url",
        default=os.environ.get(
            "ACIE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("ACIE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    p.add_argument("--out", type=Path, default=Path("out/bench_platform"))
    args = p.parse_args(argv)

    import faiss

    print(
        f"kNN benchmark: {args.n} × {args.dim} vectors in {args.clusters} clusters, "
        f"{args.queries} queries, k={args.k}; FAISS threads: {faiss.omp_get_max_threads()}"
    )
    x, q, meta = clustered(args.n, args.dim, args.clusters, args.queries, args.sigma)
    t0 = time.perf_counter()
    truth = exact_topk(x, q, args.k)
    print(f"  ground truth (numpy brute force, batched): {time.perf_counter() - t0:.2f} s")
    rows: list[dict[str, Any]] = []
    if "memory" not in args.skip:
        rows += bench_memory(x, q, meta, truth, args.k, args)
    if "pgvector" not in args.skip and _pg_database_available(args.pg_url):
        rows += bench_pgvector(x, q, meta, truth, args.k, args)
    print(
        f"\n{'backend':9} {'setting':52} {'recall@10':>9} {'median ms':>10} {'p95 ms':>8} "
        f"{'× exact':>8}"
    )
    for r in rows:
        sp = f"{r['speedup_vs_exact']:.1f}" if r["speedup_vs_exact"] else "-"
        rec = "-" if np.isnan(r["recall_at_10"]) else f"{r['recall_at_10']:.3f}"
        extra = (
            f"  (min rows returned: {r['rows_returned_min']})" if "rows_returned_min" in r else ""
        )
        print(
            f"{r['backend']:9} {r['setting']:52} {rec:>9} {r['median_ms']:>10.2f} "
            f"{r['p95_ms']:>8.2f} {sp:>8}{extra}"
        )
    jobs: list[dict[str, Any]] = []
    if "jobs" not in args.skip:
        print(f"\njob throughput: {args.jobs} no-op jobs per backend, one worker")
        jobs = bench_jobs(args)
        base = jobs[0]["process_per_s"] if jobs else None
        for r in jobs:
            print(
                f"  {r['backend']:34} submit {r['submit_per_s']:8.1f}/s   "
                f"process {r['process_per_s']:8.1f}/s   "
                f"(× SQLite lease table: {r['process_per_s'] / base:.2f})"
            )
        full = next((r for r in jobs if r["backend"] == "sql lease table (SQLite)"), None)
        normal = next((r for r in jobs if r["backend"].endswith("NORMAL)")), None)
        if full and normal:
            print(
                f"  synchronous=FULL costs SQLite × {normal['submit_per_s'] / full['submit_per_s']:.2f}"
                f" submit and × {normal['process_per_s'] / full['process_per_s']:.2f} process "
                f"time against NORMAL"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "platform.json").write_text(
        json.dumps(
            {
                "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "knn": rows,
                "jobs": jobs,
                "median_latency_summary_ms": {r["setting"]: r["median_ms"] for r in rows},
            },
            indent=2,
            default=str,
        )
    )
    if rows:
        plot(rows, args.out / "platform_recall_latency.png")
    print(f"\nwrote {args.out / 'platform.json'} and {args.out / 'platform_recall_latency.png'}")
    return 0


def _pg_database_available(url: str) -> bool:
    try:
        import psycopg
        from sqlalchemy import make_url

        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, connect_timeout=3) as conn:
            ok = conn.execute(
                "select 1 from pg_available_extensions where name = 'vector'"
            ).fetchone()
        if ok is None:
            print("  pgvector not installed, skipped (run scripts/pgvector.sh)")
        return ok is not None
    except Exception as err:
        print(f"  PostgreSQL unavailable, pgvector skipped: {err}")
        return False


if __name__ == "__main__":
    sys.exit(main())
