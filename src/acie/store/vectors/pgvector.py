"""pgvector index over the ``embeddings`` rows of one model (PostgreSQL).

The index is an IVFFlat (``lists``/``probes``) or HNSW index on
``vector::vector(dim)`` restricted to one model: a partial expression index, so one
table serves models of any dimension. Filtered queries still return ``k`` rows through
pgvector's iterative index scans (pgvector ≥ 0.8).

Filtered recall: a filter that keeps few rows defeats an approximate index (the
candidates it visits mostly fail the filter). So a filtered query first collects the
matching rows with their distances in one scan (stopping at
``exact_filter_rows + 1``); when at most ``exact_filter_rows`` match, it returns the
nearest of them (exact: recall 1). Otherwise it scans the index iteratively
(``relaxed_order``) with a larger candidate list (``filtered_ef_search``) or more
IVFFlat probes (``filtered_probes_fraction`` of the lists), then re-sorts an
oversampled candidate set (``filtered_oversample × k``). Measured on 30 000 clustered
vectors (``tests/platform/test_pgvector_recall.py``, ``benchmarks/bench_vectors.py``):
recall@10 ≥ 0.95 under 1 %, 10 % and 50 % filters on both index kinds.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, func, select, text

from acie.errors import ConfigurationError, InputValidationError, UnknownNameError
from acie.store.database import Backend, backend_of, translate_errors
from acie.store.schema import Embedding
from acie.store.vectors.base import (
    Hit,
    Metric,
    as_matrix,
    as_query,
    check_dim,
    check_k,
    normalise_inputs,
)
from acie.store.vectors.embeddings import insert_embeddings
from acie.store.vectors.filters import Filter, FilterOp, FilterSpec, parse_filters

__all__ = ["IndexKind", "PgVectorIndex"]

_PG_OPS = {Metric.l2: ("vector_l2_ops", "<->"), Metric.cosine: ("vector_cosine_ops", "<=>")}


class IndexKind(StrEnum):
    """pgvector index types."""

    ivfflat = "ivfflat"
    hnsw = "hnsw"


class PgVectorIndex:
    """pgvector index over the ``embeddings`` rows of one model.

    Parameters
    ----------
    engine : Engine
        A migrated PostgreSQL database with the ``vector`` extension.
    model_id : int
        The model whose embeddings this index searches (``acie.store.registry``).
    dim : int
        Vector dimension (one dimension per model).
    metric : {"l2", "cosine"}
    kind : {"ivfflat", "hnsw"}
    lists : int, optional
        IVFFlat lists (default: rows/1000 up to 1M rows, √rows above; pgvector's advice).
    probes : int, optional
        IVFFlat lists probed per query (default ``max(1, √lists)``; pgvector's advice).
    ef_search : int
        HNSW candidate list size.
    iterative_scan : bool
        Let filtered queries scan further until ``k`` rows are found (pgvector ≥ 0.8).
    exact_filter_rows : int
        Filtered queries matching at most this many rows are answered by exact search
        (0: never; the count stops at this many plus one).
    filtered_ef_search : int
        HNSW candidate list size of filtered index scans (at least ``ef_search``).
    filtered_probes_fraction : float
        IVFFlat lists probed by filtered index scans, as a fraction of all lists (at
        least ``probes``).
    filtered_oversample : int
        Filtered index scans take ``k × filtered_oversample`` candidates, then keep the
        nearest ``k``.
    build_memory_mb : int
        ``maintenance_work_mem`` of index builds [MiB]. An HNSW build slows down several
        times once its graph outgrows it (10⁶ vectors of dim 32 outgrew 512 MiB at
        ~590 000 rows: ``benchmarks/bench_vectors.py``).
    """

    backend_name = "pgvector"

    def __init__(
        self,
        *,
        engine: Engine,
        model_id: int,
        dim: int,
        metric: Metric | str = Metric.l2,
        kind: IndexKind | str = IndexKind.ivfflat,
        lists: int | None = None,
        probes: int | None = None,
        ef_search: int = 40,
        iterative_scan: bool = True,
        exact_filter_rows: int = 10_000,
        filtered_ef_search: int = 200,
        filtered_probes_fraction: float = 0.25,
        filtered_oversample: int = 4,
        build_memory_mb: int = 1024,
    ) -> None:
        if backend_of(engine) is not Backend.postgresql:
            raise ConfigurationError(
                f"PgVectorIndex needs PostgreSQL; got a {engine.dialect.name} engine"
            )
        check_dim(dim)
        if isinstance(model_id, bool) or not isinstance(model_id, int):
            raise InputValidationError(f"model_id must be an integer; got {model_id!r}")
        try:
            self.metric = Metric(metric)
            self.kind = IndexKind(kind)
        except ValueError:
            raise UnknownNameError(
                f"metric must be l2|cosine and kind ivfflat|hnsw; got {metric!r}, {kind!r}"
            ) from None
        self.engine = engine
        self.model_id = model_id
        self.dim = dim
        self.lists = lists
        self.probes = probes
        self.ef_search = int(ef_search)
        self.iterative_scan = iterative_scan
        for name, value in (
            ("exact_filter_rows", exact_filter_rows),
            ("filtered_ef_search", filtered_ef_search),
            ("filtered_oversample", filtered_oversample),
            ("build_memory_mb", build_memory_mb),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputValidationError(f"{name} must be an integer ≥ 0; got {value!r}")
        if not 0.0 < float(filtered_probes_fraction) <= 1.0:
            raise InputValidationError(
                f"filtered_probes_fraction must be in (0, 1]; got {filtered_probes_fraction!r}"
            )
        self.exact_filter_rows = exact_filter_rows
        self.filtered_ef_search = max(filtered_ef_search, self.ef_search)
        self.filtered_probes_fraction = float(filtered_probes_fraction)
        self.filtered_oversample = max(1, filtered_oversample)
        self.build_memory_mb = max(64, build_memory_mb)
        self.lists_: int | None = None

    @property
    def index_name(self) -> str:
        """Name of this model's ANN index (one per model, index kind and metric)."""
        return f"ix_embeddings_m{self.model_id}_{self.kind.value}_{self.metric.value}"

    def _expr(self) -> str:
        return f"(vector::vector({self.dim}))"

    def __len__(self) -> int:
        with translate_errors(), self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(Embedding)
                    .where(Embedding.model_id == self.model_id)
                ).scalar_one()
            )

    def add(
        self,
        ids: Sequence[uuid.UUID | str] | None,
        vectors: Any,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        *,
        contents: Sequence[Mapping[str, Any]] | None = None,
        batch: int = 5000,
    ) -> list[uuid.UUID]:
        """Insert embeddings of this model (one binary COPY, one transaction)."""
        x = as_matrix(vectors, self.dim)
        uids, metas, conts = normalise_inputs(ids, len(x), metadata, contents)
        insert_embeddings(self.engine, self.model_id, self.dim, uids, x, metas, conts, batch)
        return uids

    def _exists(self, conn: Any) -> bool:
        return conn.execute(
            text("SELECT to_regclass(:n) IS NOT NULL"), {"n": self.index_name}
        ).scalar_one()

    def build(self) -> dict[str, Any]:
        """Create the index if it does not exist yet (build it after loading data)."""
        with translate_errors(), self.engine.connect() as conn:
            if self._exists(conn):
                return self.info()
        return self.rebuild()

    def rebuild(self) -> dict[str, Any]:
        """Drop and recreate the index (IVFFlat centroids follow the current data)."""
        n = len(self)
        ops, _ = _PG_OPS[self.metric]
        if self.kind is IndexKind.ivfflat:
            lists = self.lists or max(1, n // 1000 if n <= 1_000_000 else int(math.sqrt(n)))
            with_ = f"(lists = {int(lists)})"
            self.lists_ = int(lists)
        else:
            with_ = "(m = 16, ef_construction = 64)"
        with translate_errors(), self.engine.begin() as conn:
            conn.execute(text(f"SET LOCAL maintenance_work_mem = '{int(self.build_memory_mb)}MB'"))
            conn.execute(text(f"DROP INDEX IF EXISTS {self.index_name}"))
            conn.execute(
                text(
                    f"CREATE INDEX {self.index_name} ON embeddings USING {self.kind.value} "
                    f"({self._expr()} {ops}) WITH {with_} WHERE model_id = {int(self.model_id)}"
                )
            )
            conn.execute(text("ANALYZE embeddings"))
        return self.info()

    def info(self) -> dict[str, Any]:
        """Size and index parameters (``lists`` read back from the catalog)."""
        with translate_errors(), self.engine.connect() as conn:
            exists = self._exists(conn)
            opts = conn.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = :n"), {"n": self.index_name}
            ).scalar()
        lists = None
        for opt in opts or []:
            if opt.startswith("lists="):
                lists = int(opt.split("=", 1)[1])
        return {
            "backend": self.backend_name,
            "n": len(self),
            "dim": self.dim,
            "metric": self.metric.value,
            "index": self.kind.value if exists else "none",
            "index_name": self.index_name,
            "lists": lists,
            "probes": self._probes(lists) if self.kind is IndexKind.ivfflat else None,
            "ef_search": self.ef_search if self.kind is IndexKind.hnsw else None,
        }

    def _probes(self, lists: int | None) -> int:
        if self.probes:
            return int(self.probes)
        return max(1, round(math.sqrt(lists or self.lists_ or 1)))

    def _where(self, filters: list[Filter], params: dict[str, Any]) -> str:
        clauses = [f"model_id = {int(self.model_id)}"]
        for i, f in enumerate(filters):
            fk, vk = f"f{i}", f"v{i}"
            params[fk] = f.field
            values = f.value if f.op is FilterOp.isin else [f.value]
            if all(isinstance(v, bool) for v in values):
                typ, expr = "boolean", f"(metadata -> :{fk})::boolean"
            elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                typ, expr = "number", f"(metadata ->> :{fk})::double precision"
            elif all(isinstance(v, str) for v in values):
                typ, expr = "string", f"(metadata ->> :{fk})"
            else:
                raise InputValidationError(
                    f"an 'in' filter's values must share one type; got {values!r}"
                )
            guard = f"jsonb_typeof(metadata -> :{fk}) = '{typ}'"
            # CASE keeps the cast from running on rows of another type
            if f.op is FilterOp.isin:
                params[vk] = list(values)
                clauses.append(f"(CASE WHEN {guard} THEN {expr} = ANY(:{vk}) ELSE false END)")
            else:
                params[vk] = f.value
                op_text = FilterOp(f.op).value
                sql_op = {"==": "=", "!=": "<>"}.get(op_text, op_text)
                clauses.append(f"(CASE WHEN {guard} THEN {expr} {sql_op} :{vk} ELSE false END)")
        return " AND ".join(clauses)

    def search(
        self, vector: Any, k: int = 10, *, filters: FilterSpec = None, exact: bool = False
    ) -> list[Hit]:
        """The ``k`` nearest embeddings of this model that pass ``filters``.

        ``exact=True`` disables index scans for this query (sequential exact search).
        """
        k = check_k(k)
        q = as_query(vector, self.dim)
        fl = parse_filters(filters)
        params: dict[str, Any] = {"q": "[" + ",".join(repr(float(v)) for v in q) + "]", "k": k}
        where = self._where(fl, params)
        _, op = _PG_OPS[self.metric]
        dist = f"{self._expr()} {op} CAST(:q AS vector({self.dim}))"
        limit = k
        with translate_errors(), self.engine.begin() as conn:
            if fl and not exact and self.exact_filter_rows > 0:
                few = self._exact_if_few(conn, where, dist, params)
                if few is not None:
                    return few
            gucs: dict[str, str] = {}
            if exact:
                gucs = {"enable_indexscan": "off", "enable_bitmapscan": "off"}
            elif self.kind is IndexKind.ivfflat:
                probes = self._probes(None)
                if fl:
                    lists = self.lists_ or self._lists(conn) or 1
                    probes = max(probes, math.ceil(self.filtered_probes_fraction * lists))
                    limit = k * self.filtered_oversample
                    if self.iterative_scan:
                        gucs["ivfflat.iterative_scan"] = "relaxed_order"
                gucs["ivfflat.probes"] = str(probes)
            else:
                gucs["hnsw.ef_search"] = str(self.ef_search)
                if fl:
                    gucs["hnsw.ef_search"] = str(max(self.filtered_ef_search, k))
                    limit = k * self.filtered_oversample
                    if self.iterative_scan:
                        gucs["hnsw.iterative_scan"] = "relaxed_order"
            params["lim"], params["k"] = limit, k
            sql = (
                f"WITH c AS MATERIALIZED (SELECT id, metadata, content, {dist} AS distance "
                f"FROM embeddings WHERE {where} ORDER BY {dist} LIMIT :lim) "
                f"SELECT id, metadata, content, distance FROM c ORDER BY distance LIMIT :k"
            )
            self._set_local(conn, gucs)
            rows = conn.execute(text(sql), params).all()
        return [_hit(r) for r in rows]

    def _exact_if_few(
        self, conn: Any, where: str, dist: str, params: dict[str, Any]
    ) -> list[Hit] | None:
        """Exact hits when at most ``exact_filter_rows`` rows pass the filter, else None.

        One scan: the filtered rows are collected (up to ``exact_filter_rows + 1``, so a
        broad filter stops early) with their distances, counted and sorted.
        """
        sql = (
            f"WITH f AS MATERIALIZED (SELECT id, metadata, content, {dist} AS distance "
            f"FROM embeddings WHERE {where} LIMIT :cap) "
            f"SELECT id, metadata, content, distance, (SELECT count(*) FROM f) AS n "
            f"FROM f ORDER BY distance LIMIT :k"
        )
        rows = conn.execute(text(sql), {**params, "cap": self.exact_filter_rows + 1}).all()
        if rows and int(rows[0].n) > self.exact_filter_rows:
            return None
        return [_hit(r) for r in rows]

    def _lists(self, conn: Any) -> int | None:
        opts = conn.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = :n"), {"n": self.index_name}
        ).scalar()
        for opt in opts or []:
            if opt.startswith("lists="):
                self.lists_ = int(opt.split("=", 1)[1])
        return self.lists_

    @staticmethod
    def _set_local(conn: Any, gucs: Mapping[str, str]) -> None:
        if not gucs:
            return
        # one round trip: transaction-local settings (set_config(..., true) = SET LOCAL)
        set_sql = "SELECT " + ", ".join(f"set_config(:g{i}, :s{i}, true)" for i in range(len(gucs)))
        set_params = {}
        for i, (name, value) in enumerate(gucs.items()):
            set_params[f"g{i}"], set_params[f"s{i}"] = name, value
        conn.execute(text(set_sql), set_params)


def _hit(r: Any) -> Hit:
    return Hit(
        r.id if isinstance(r.id, uuid.UUID) else uuid.UUID(str(r.id)),
        float(r.distance),
        dict(r.metadata or {}),
        dict(r.content or {}),
    )
