"""Benchmark: pgvector filtered recall@10 and p50 against exact search; in-process index vs FAISS flat.

Run: ``python benchmarks/bench_vectors.py [--n 1000000] [--pg-n 100000] [--dim D]``
(``--dim`` defaults to the shipped embedder's, ``acie.embedding.load_default_embedder().dim``;
the issue's scale goal is ``--n 1000000``: run it under ``nice``). PostgreSQL with
pgvector ≥ 0.8 is needed for part 1 (``--pg-url`` admin URL, default
``ACIE_TEST_POSTGRES_URL`` or the local server); a missing server skips it with a
message. FAISS is needed for part 2.

Vectors: random-but-clustered, not real embeddings: ``n × dim`` float32 points in 50
Gaussian clusters (seed 0); queries are fresh draws from the same clusters. Metadata
as an ingested survey's: ``survey`` one of five names, ``redshift`` uniform in
[0, 2), both independent of the vector (the hard case for a filtered ANN scan: a
query's unfiltered neighbours mostly fail the filter), and ``u`` uniform in [0, 1).

1. pgvector (``--pg-kinds``, HNSW and IVFFlat): recall@10 against pgvector's own exact
   search of the filtered rows (the peer, timed in the same run) and the median
   single-query latency of ``index only`` (iterative index scan with the unfiltered
   ef_search/probes: the behaviour before issue 17), ``iterative`` (the default's
   wider iterative scan, ef_search 200 or a quarter of the lists, 4 k candidates
   re-sorted, for every filter) and ``default`` (filters matching at most
   ``exact_filter_rows`` = 10 000 rows searched exactly after a capped count; the
   wider iterative scan otherwise),
   under the filters ``survey == X and z0 <= redshift < z0 + w`` (w = 0.05, 0.4, 1: 0.5 %,
   4 % and 10 % of the rows) and ``u < 0.5``.
2. In-process :class:`MemoryVectorIndex` (``--ann``: FAISS HNSW, M ``--hnsw-m``, for
   each ``--ef-search``; or IVF) against a FAISS ``IndexFlatL2`` (exact, the peer) on
   the same vectors: recall@10 and p50 of single queries.

Prints one line per setting with the ratio to the peer's p50.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import percentile

from acie.store import create_engine_for, migrate
from acie.store.registry import ensure_model
from acie.store.vectors import MemoryVectorIndex, PgVectorIndex

K = 10


SURVEYS = ("SDSS", "HSC", "DES", "KiDS", "COSMOS")


def clustered(n: int, dim: int, n_queries: int, seed: int = 0):
    """Clustered vectors, queries and a uniform metadata column ``u``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(50, dim))
    x = np.empty((n, dim), dtype=np.float32)
    for a in range(0, n, 100_000):  # chunks: float64 temporaries of 10⁶ × dim are large
        b = min(n, a + 100_000)
        x[a:b] = centres[rng.integers(0, 50, b - a)] + rng.normal(size=(b - a, dim))
    q = centres[rng.integers(0, 50, n_queries)] + rng.normal(size=(n_queries, dim))
    return x, q.astype(np.float32), rng.uniform(size=n)


def survey_metadata(n: int, seed: int = 2) -> list[dict[str, Any]]:
    """``survey`` (one of :data:`SURVEYS`) and ``redshift`` (uniform in [0, 2)) per row."""
    rng = np.random.default_rng(seed)
    s = rng.integers(0, len(SURVEYS), n)
    z = rng.uniform(0.0, 2.0, n)
    return [
        {"survey": SURVEYS[i], "redshift": round(float(v), 5)} for i, v in zip(s, z, strict=True)
    ]


def default_dim() -> int:
    """The shipped galaxy embedder's dimension."""
    from acie.embedding import load_default_embedder

    return int(load_default_embedder().dim)


def _timed(fn, queries) -> tuple[list[set], float]:
    results, times = [], []
    for v in queries:
        t0 = time.perf_counter()
        results.append({h.id for h in fn(v)})
        times.append(time.perf_counter() - t0)
    return results, percentile(times, 0.5) * 1e3


def _recall(got: list[set], truth: list[set]) -> float:
    return sum(len(g & t) for g, t in zip(got, truth, strict=True)) / (K * len(truth))


def bench_pgvector(args) -> list[dict[str, Any]]:
    import psycopg
    from sqlalchemy import make_url

    admin = make_url(args.pg_url)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"acie_bench_vec_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as err:
        print(f"pgvector skipped: no PostgreSQL at {args.pg_url}: {err}".splitlines()[0])
        return []
    url = admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )
    rows: list[dict[str, Any]] = []
    x, q, u = clustered(args.pg_n, args.dim, args.queries)
    try:
        migrate(url)
        engine = create_engine_for(url)
        with engine.connect() as conn:
            from sqlalchemy import text

            version = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            ).scalar()
        print(f"pgvector {version}, {args.pg_n} vectors of dim {args.dim}, {args.queries} queries")
        meta = [{**m, "u": float(v)} for m, v in zip(survey_metadata(args.pg_n), u, strict=True)]
        filters = {
            "HSC, 0.5<=z<0.55 (0.5 %)": {"survey": "HSC", "redshift": {">=": 0.5, "<": 0.55}},
            "DES, 0.8<=z<1.2 (4 %)": {"survey": "DES", "redshift": {">=": 0.8, "<": 1.2}},
            "SDSS, z<1 (10 %)": {"survey": "SDSS", "redshift": {"<": 1.0}},
            "u<0.5 (50 %)": {"u": {"<": 0.5}},
        }
        for kind in args.pg_kinds.split(","):
            mid = ensure_model(engine, f"bench-{kind}", "0" * 64)
            base = PgVectorIndex(engine=engine, model_id=mid, dim=args.dim, kind=kind)
            t0 = time.perf_counter()
            base.add(None, x, meta)
            print(f"  {kind}: {args.pg_n} rows inserted in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            base.build()
            print(f"  {kind}: index built in {time.perf_counter() - t0:.1f} s")
            index_only = PgVectorIndex(
                engine=engine,
                model_id=mid,
                dim=args.dim,
                kind=kind,
                exact_filter_rows=0,
                filtered_ef_search=40,
                filtered_probes_fraction=1e-9,
                filtered_oversample=1,
            )
            iterative = PgVectorIndex(  # the default's wider scan, without the exact path
                engine=engine, model_id=mid, dim=args.dim, kind=kind, exact_filter_rows=0
            )
            for fname, f in filters.items():
                truth, p50_exact = _timed(
                    lambda v, f=f, base=base: base.search(v, K, filters=f, exact=True), q
                )
                settings = (("index only", index_only), ("iterative", iterative), ("default", base))
                for label, idx in settings:
                    got, p50 = _timed(lambda v, f=f, idx=idx: idx.search(v, K, filters=f), q)
                    row = {
                        "backend": f"pgvector {kind}",
                        "filter": fname,
                        "setting": label,
                        "recall@10": _recall(got, truth),
                        "p50_ms": p50,
                        "exact_p50_ms": p50_exact,
                    }
                    rows.append(row)
                    print(
                        f"  {kind:7s} {fname:26s}  {label:10s}  recall@10 {row['recall@10']:.3f}"
                        f"  p50 {p50:7.2f} ms  exact p50 {p50_exact:7.2f} ms"
                        f"  ({p50_exact / p50:5.1f}x faster than exact)"
                    )
        engine.dispose()
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return rows


def bench_memory(args) -> list[dict[str, Any]]:
    try:
        import faiss
    except ImportError:
        print("in-process vs FAISS skipped: faiss is not installed")
        return []
    faiss.omp_set_num_threads(1)
    x, q, _ = clustered(args.n, args.dim, args.queries, seed=1)
    flat = faiss.IndexFlatL2(args.dim)
    flat.add(x)
    truth, times = [], []
    for v in q:
        t0 = time.perf_counter()
        _, ix = flat.search(v[None, :], K)
        times.append(time.perf_counter() - t0)
        truth.append(set(ix[0].tolist()))
    p50_flat = percentile(times, 0.5) * 1e3
    print(f"FAISS IndexFlatL2 (exact) at {args.n} vectors of dim {args.dim}: p50 {p50_flat:.3f} ms")
    index = MemoryVectorIndex(
        dim=args.dim, ann=args.ann, hnsw_m=args.hnsw_m, ef_construction=args.ef_construction
    )
    index.add([uuid.UUID(int=i) for i in range(args.n)], x)
    del x
    t0 = time.perf_counter()
    info = index.build()
    build_s = time.perf_counter() - t0
    params = (
        f"M {args.hnsw_m}, efConstruction {args.ef_construction}"
        if args.ann == "hnsw"
        else f"nlist {info.get('nlist')}, nprobe {info.get('nprobe')}"
    )
    print(f"in-process index ({info.get('index')}, {params}) built in {build_s:.1f} s")
    rows = []
    hnsw = args.ann == "hnsw"
    sweep = args.ef_search if hnsw else args.nprobe
    for ef in [int(e) for e in sweep.split(",")] if sweep else [0]:
        if hnsw:
            index.ef_search = ef or index.ef_search
        elif ef:
            index.nprobe_ = ef
        index.search(q[0], K)  # warm
        got, p50 = _timed(lambda v: index.search(v, K), q)
        recall = _recall([{i.int for i in g} for g in got], truth)
        label = (f"efSearch {ef:4d}" if hnsw else f"nprobe {ef:4d}") if ef else "default"
        print(
            f"  {label}: recall@10 {recall:.3f}, p50 {p50:.3f} ms "
            f"(FAISS flat p50 {p50_flat:.3f} ms, {p50_flat / p50:.1f}x)"
        )
        rows.append(
            {
                "backend": f"memory {info.get('index')}",
                "n": args.n,
                "ef_search": (ef or None) if hnsw else None,
                "nprobe": None if hnsw else (ef or info.get("nprobe")),
                "recall@10": recall,
                "p50_ms": p50,
                "faiss_flat_p50_ms": p50_flat,
                "build_s": build_s,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=200_000, help="vectors of the in-process run")
    p.add_argument("--pg-n", type=int, default=None, help="vectors of the pgvector run (--n)")
    p.add_argument("--dim", type=int, default=None, help="default: the shipped embedder's")
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--ann", choices=("hnsw", "ivf"), default="hnsw")
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=80)
    p.add_argument("--ef-search", default="16,32,64,128,256", help="comma-separated values to time")
    p.add_argument(
        "--nprobe", default="", help="with --ann ivf: comma-separated nprobe values to time"
    )
    p.add_argument("--pg-kinds", default="hnsw,ivfflat")
    p.add_argument(
        "--pg-url",
        default=os.environ.get(
            "ACIE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    p.add_argument("--skip-pg", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args(argv)
    args.pg_n = args.pg_n or args.n
    args.dim = args.dim or default_dim()
    if not args.skip_pg:
        bench_pgvector(args)
    if not args.skip_memory:
        bench_memory(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
