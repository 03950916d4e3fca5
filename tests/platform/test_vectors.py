"""One vector-index test suite, run against the in-process index and pgvector."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from sqlalchemy import text

from acie.errors import InputValidationError, ShapeError, UnknownNameError
from acie.store import create_engine_for, migrate
from acie.store.registry import ensure_model
from acie.store.vectors import (
    Filter,
    MemoryVectorIndex,
    PgVectorIndex,
    VectorIndex,
    open_vector_index,
)

N, DIM, CLUSTERS = 3000, 16, 20


def _dataset(seed: int = 7):
    """Clustered vectors with astrophysical-looking metadata (seeded)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(CLUSTERS, DIM))
    labels = rng.integers(0, CLUSTERS, size=N)
    x = (centres[labels] + rng.normal(size=(N, DIM))).astype(np.float32)
    meta = []
    for i in range(N):
        m = {
            "redshift": float(rng.uniform(0.0, 3.0)),
            "kind": ["spiral", "elliptical", "irregular"][i % 3],
            "agn": bool(i % 5 == 0),
        }
        if i % 97 == 0:
            m["redshift"] = "unknown"  # wrong type: never matches a numeric filter
        if i % 101 == 0:
            del m["kind"]  # missing field: never matches
        meta.append(m)
    return x, meta, rng


@pytest.fixture(
    scope="module", params=["memory", pytest.param("pgvector", marks=pytest.mark.postgres)]
)
def loaded(request, tmp_path_factory):
    """(index, ids, vectors, metadata) with the dataset loaded into one backend.

    Module-scoped: the tests below only read from it. The memory index trains a FAISS
    IVF index (3000 vectors ≥ ``ivf_min_size``), so it needs faiss.
    """
    x, meta, _ = _dataset()
    if request.param == "memory":
        request.getfixturevalue("faiss")
        url = f"sqlite:///{tmp_path_factory.mktemp('vectors') / 'v.sqlite3'}"
        migrate(url)
    else:
        dbs = request.getfixturevalue("postgres_databases")
        url = dbs.create(template=request.getfixturevalue("postgres_template"))
    engine = create_engine_for(url)
    mid = ensure_model(engine, "encoder", "c" * 64)
    if request.param == "memory":
        index: VectorIndex = MemoryVectorIndex(
            dim=DIM, ivf_min_size=1000, engine=engine, model_id=mid
        )
    else:
        index = PgVectorIndex(engine=engine, model_id=mid, dim=DIM)
    ids = index.add(None, x, meta)
    index.build()
    yield index, ids, x, meta
    engine.dispose()
    if request.param == "pgvector":
        dbs.drop(url)


def _brute_force(x, q, k, rows=None):
    rows = np.arange(len(x)) if rows is None else np.asarray(rows)
    d = np.linalg.norm(x[rows].astype(np.float64) - q, axis=1)
    order = np.argsort(d, kind="stable")[:k]
    return rows[order], d[order]


def test_exact_search_matches_brute_force(loaded):
    index, ids, x, _ = loaded
    assert len(index) == N
    q = x[11] + 0.05
    hits = index.search(q, 10, exact=True)
    pos, dist = _brute_force(x, q, 10)
    assert [h.id for h in hits] == [ids[p] for p in pos]
    # float32 storage: relative error of a distance ~ 1e-7 · √DIM; 1e-5 is generous
    np.testing.assert_allclose([h.distance for h in hits], dist, rtol=1e-5)


def test_approximate_recall_on_clustered_data(loaded):
    index, ids, x, _ = loaded
    rng = np.random.default_rng(3)
    queries = x[rng.choice(N, 40, replace=False)] + rng.normal(scale=0.1, size=(40, DIM))
    recall = []
    for q in queries:
        truth = {ids[p] for p in _brute_force(x, q, 10)[0]}
        got = {h.id for h in index.search(q.astype(np.float32), 10)}
        recall.append(len(truth & got) / 10)
    # both indexes probe a large share of the cells of 20 tight clusters, so recall@10 is
    # ≈ 1 in expectation; 0.9 leaves room for boundary cases
    assert np.mean(recall) >= 0.9


def test_selective_filter_still_returns_k_rows(loaded):
    index, ids, x, meta = loaded
    q = x[0]
    passing = [
        i for i, m in enumerate(meta) if isinstance(m["redshift"], float) and m["redshift"] > 2.9
    ]
    assert 60 < len(passing) < 150  # ~3 % of the rows
    hits = index.search(q, 10, filters={"redshift": {">": 2.9}})
    assert len(hits) == 10
    assert all(h.metadata["redshift"] > 2.9 for h in hits)
    truth = [ids[p] for p in _brute_force(x, q, 10, passing)[0]]
    assert len(set(truth) & {h.id for h in hits}) >= 8


@pytest.mark.parametrize(
    ("filters", "reference"),
    [
        ({"kind": "spiral"}, lambda m: m.get("kind") == "spiral"),
        ({"agn": True}, lambda m: m["agn"] is True),
        (
            {"redshift": {">=": 1.0, "<": 1.2}, "kind": {"!=": "spiral"}},
            lambda m: (
                isinstance(m["redshift"], float)
                and 1.0 <= m["redshift"] < 1.2
                and m.get("kind") not in (None, "spiral")
            ),
        ),
        (
            [Filter("kind", "in", ["irregular", "elliptical"]), Filter("redshift", "<=", 0.5)],
            lambda m: (
                m.get("kind") in ("irregular", "elliptical")
                and isinstance(m["redshift"], float)
                and m["redshift"] <= 0.5
            ),
        ),
        ({"redshift": "unknown"}, lambda m: m["redshift"] == "unknown"),
    ],
)
def test_filter_semantics(loaded, filters, reference):
    index, ids, x, meta = loaded
    passing = [i for i, m in enumerate(meta) if reference(m)]
    k = 25
    hits = index.search(x[5], k, filters=filters, exact=True)
    truth = [ids[p] for p in _brute_force(x, x[5], k, passing)[0]]
    assert [h.id for h in hits] == truth


def test_bad_input(loaded):
    index = loaded[0]
    with pytest.raises(ShapeError, match=rf"\({DIM},\)"):
        index.search(np.zeros(DIM + 1), 3)
    with pytest.raises(InputValidationError, match="k must be"):
        index.search(np.zeros(DIM), 0)
    with pytest.raises(UnknownNameError, match="operators"):
        index.search(np.zeros(DIM), 3, filters={"redshift": {"~": 1}})
    with pytest.raises(InputValidationError, match="compares numbers"):
        index.search(np.zeros(DIM), 3, filters={"redshift": {">": "high"}})
    with pytest.raises(ShapeError):
        index.add(None, np.zeros((2, DIM - 1)))
    with pytest.raises(InputValidationError, match="finite"):
        index.add(None, np.full((1, DIM), np.nan))


@pytest.mark.postgres
def test_pgvector_uses_the_index_and_iterative_scan_fills_k(postgres_engine):
    x, meta, _ = _dataset()
    mid = ensure_model(postgres_engine, "enc", "d" * 64)
    strict = PgVectorIndex(
        engine=postgres_engine,
        model_id=mid,
        dim=DIM,
        lists=30,
        probes=1,
        iterative_scan=False,
        exact_filter_rows=0,  # the index path alone, not exact search of few matches
        filtered_probes_fraction=1 / 30,
    )
    strict.add(None, x, meta)
    info = strict.build()
    assert info["index"] == "ivfflat"
    assert info["lists"] == 30
    assert info["n"] == N
    q = "[" + ",".join(map(str, x[0])) + "]"
    with postgres_engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                text(
                    f"EXPLAIN SELECT id FROM embeddings WHERE model_id = {mid} "
                    f"ORDER BY (vector::vector({DIM})) <-> CAST(:q AS vector({DIM})) LIMIT 10"
                ),
                {"q": q},
            ).scalars()
        )
    assert strict.index_name in plan
    # one probed list holds ~100 rows, ~3 of which pass: without iterative scans the
    # index returns fewer than k rows, with them it keeps scanning until it has k
    few = strict.search(x[0], 10, filters={"redshift": {">": 2.9}})
    relaxed = PgVectorIndex(engine=postgres_engine, model_id=mid, dim=DIM, lists=30, probes=1)
    full = relaxed.search(x[0], 10, filters={"redshift": {">": 2.9}})
    assert len(few) < 10
    assert len(full) == 10


@pytest.mark.postgres
def test_pgvector_rebuild_and_hnsw(postgres_engine):
    x, meta, _ = _dataset()
    mid = ensure_model(postgres_engine, "enc", "e" * 64)
    index = PgVectorIndex(engine=postgres_engine, model_id=mid, dim=DIM)
    index.add(None, x[:1000], meta[:1000])
    assert index.build()["lists"] == 1  # rows/1000
    index.add(None, x[1000:], meta[1000:])
    assert index.build()["lists"] == 1  # build() keeps an existing index
    assert index.rebuild()["lists"] == 3
    hnsw = PgVectorIndex(
        engine=postgres_engine, model_id=mid, dim=DIM, kind="hnsw", metric="cosine"
    )
    assert hnsw.build()["index"] == "hnsw"
    q = x[42]
    hits = hnsw.search(q, 5)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = 1.0 - xn @ (q / np.linalg.norm(q))
    assert hits[0].distance == pytest.approx(np.sort(cos)[0], abs=1e-5)


def test_memory_index_cosine_and_persistence(migrated_sqlite_url, sqlite_engine):
    x, meta, _ = _dataset()
    mid = ensure_model(sqlite_engine, "enc", "f" * 64)
    index = MemoryVectorIndex(dim=DIM, metric="cosine", engine=sqlite_engine, model_id=mid)
    index.add(None, x[:500], meta[:500])
    q = x[7]
    hits = index.search(q, 3)
    xn = x[:500] / np.linalg.norm(x[:500], axis=1, keepdims=True)
    cos = np.sort(1.0 - xn @ (q / np.linalg.norm(q)))[:3]
    np.testing.assert_allclose([h.distance for h in hits], cos, atol=1e-5)
    # the embeddings went to the database: a new process-like open finds them
    reopened = open_vector_index(migrated_sqlite_url, model_id=mid, metric="cosine")
    assert isinstance(reopened, MemoryVectorIndex)
    assert len(reopened) == 500
    assert [h.id for h in reopened.search(q, 3)] == [h.id for h in hits]
    with pytest.raises(ShapeError, match="dimension 16"):
        MemoryVectorIndex(dim=8, engine=sqlite_engine, model_id=mid).add(None, np.ones((1, 8)))


@pytest.mark.postgres
def test_open_vector_index_picks_pgvector_on_postgres(migrated_postgres_url, postgres_engine):
    mid = ensure_model(postgres_engine, "enc", "9" * 64)
    index = open_vector_index(migrated_postgres_url, model_id=mid, dim=4)
    assert isinstance(index, PgVectorIndex)
    with pytest.raises(InputValidationError, match="give dim"):
        open_vector_index(migrated_postgres_url, model_id=mid)


@pytest.mark.parametrize("which", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_cli_index_build_and_rebuild(request, which):
    import json

    from typer.testing import CliRunner

    from acie.cli.admin import app

    url = request.getfixturevalue(f"migrated_{which}_url")
    engine = create_engine_for(url)
    mid = ensure_model(engine, "galaxy-encoder", "a" * 64)
    x, meta, _ = _dataset()
    open_vector_index(url, model_id=mid, dim=DIM, engine=engine).add(None, x[:2000], meta[:2000])
    engine.dispose()
    runner = CliRunner()
    for command in ("index-build", "index-rebuild"):
        res = runner.invoke(
            app, [command, "--model", "galaxy-encoder", "--url", url, "--json", "--lists", "4"]
        )
        assert res.exit_code == 0, res.output
        info = json.loads(res.output)
        assert info["n"] == 2000
        expected = "ivfflat" if which == "postgres" else "exact"  # < ivf_min_size in memory
        assert info["index"] == expected


def test_default_nprobe_is_the_measured_choice():
    """The IVF default probes max(16, nlist/32) cells (docs/data.md: recall@10 1.000 at
    2e4, 2e5 and 1e6 vectors); an explicit nprobe still wins, capped at nlist."""
    pytest.importorskip("faiss")
    rng = np.random.default_rng(5)
    centres = rng.normal(scale=4.0, size=(20, DIM))
    n = 1024 * 40  # FAISS wants >= 39 training vectors per cell
    x = (centres[rng.integers(0, 20, n)] + rng.normal(size=(n, DIM))).astype(np.float32)
    ids = [uuid.UUID(int=i) for i in range(len(x))]
    index = MemoryVectorIndex(dim=DIM, ivf_min_size=1000, nlist=1024)
    index.add(ids, x)
    info = index.build()
    assert info["nprobe"] == max(16, 1024 // 32) == 32
    truth = [{h.id for h in index.search(q, 10, exact=True)} for q in x[:30]]
    got = [{h.id for h in index.search(q, 10)} for q in x[:30]]
    assert np.mean([len(t & g) / 10 for t, g in zip(truth, got, strict=True)]) >= 0.95
    explicit = MemoryVectorIndex(dim=DIM, ivf_min_size=1000, nlist=64, nprobe=500)
    explicit.add(ids, x)
    assert explicit.build()["nprobe"] == 64
