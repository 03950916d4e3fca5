"""Vector retrieval: one interface, two backends.

* :class:`MemoryVectorIndex` — in-process. Exact search with numpy; for collections of
  at least ``ivf_min_size`` vectors :meth:`~MemoryVectorIndex.build` trains a FAISS
  ``IndexIVFFlat`` (``nlist`` cells, ``nprobe`` probed per query).
* :class:`PgVectorIndex` — PostgreSQL with pgvector. Rows live in ``embeddings``; the
  index is an IVFFlat (``lists``/``probes``) or HNSW index on
  ``vector::vector(dim)`` restricted to one model (a partial expression index, so one
  table serves models of any dimension).

Both take metadata filters (``{"redshift": {">": 2}}`` or ``[Filter("redshift", ">", 2)]``)
and still return ``k`` rows when a filter is selective: pgvector through iterative
index scans (pgvector ≥ 0.8), the memory index by restricting FAISS to the rows that
pass (``IDSelectorBatch``) and falling back to exact search when the probed cells hold
fewer than ``k`` of them.

Distances: ``"l2"`` is the Euclidean distance; ``"cosine"`` is ``1 − cos θ``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sqlalchemy import Engine, func, insert, select, text

from acie.errors import (
    ConfigurationError,
    InputValidationError,
    ShapeError,
    UnknownNameError,
)
from acie.store.database import Backend, backend_of, translate_errors
from acie.store.schema import Embedding

__all__ = [
    "Filter",
    "FilterOp",
    "Hit",
    "Metric",
    "VectorIndex",
    "MemoryVectorIndex",
    "PgVectorIndex",
    "open_vector_index",
    "parse_filters",
]


class Metric(StrEnum):
    """Distance of a vector index."""

    l2 = "l2"
    cosine = "cosine"


class FilterOp(StrEnum):
    """Comparison operators of metadata filters."""

    eq = "=="
    ne = "!="
    lt = "<"
    le = "<="
    gt = ">"
    ge = ">="
    isin = "in"


_OP_ALIASES = {
    "=": "==",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "in": "in",
}


@dataclass(frozen=True)
class Filter:
    """``metadata[field] <op> value``; rows lacking the field, or holding a value of
    another type (a string where a number is compared), never match."""

    field: str
    op: FilterOp | str
    value: Any

    def __post_init__(self) -> None:
        op = _OP_ALIASES.get(str(self.op), str(self.op))
        try:
            object.__setattr__(self, "op", FilterOp(op))
        except ValueError:
            raise UnknownNameError(
                f"filter operators are {', '.join(o.value for o in FilterOp)}; got {self.op!r}"
            ) from None
        if not isinstance(self.field, str) or not self.field:
            raise InputValidationError(
                f"filter field must be a non-empty string; got {self.field!r}"
            )
        values = self.value if self.op is FilterOp.isin else [self.value]
        if self.op is FilterOp.isin and (
            isinstance(self.value, str | bytes) or not isinstance(self.value, Iterable)
        ):
            raise InputValidationError(f"an 'in' filter takes a list of values; got {self.value!r}")
        if self.op is FilterOp.isin:
            object.__setattr__(self, "value", list(values))
        for v in values:
            if not isinstance(v, bool | int | float | str):
                raise InputValidationError(
                    f"filter values must be numbers, strings or "
                    f"booleans; got {v!r} for {self.field!r}"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise InputValidationError(f"filter values must be finite; got {v!r}")
        if self.op in (FilterOp.lt, FilterOp.le, FilterOp.gt, FilterOp.ge) and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise InputValidationError(
                f"the {FilterOp(self.op).value!r} filter compares numbers; "
                f"got {self.value!r} for {self.field!r}"
            )


FilterSpec = Mapping[str, Any] | Sequence[Filter] | None


def parse_filters(filters: FilterSpec) -> list[Filter]:
    """Normalise filters: a list of :class:`Filter`, or a mapping ``field → value``
    (equality) / ``field → {op: value, ...}``."""
    if filters is None:
        return []
    if isinstance(filters, Mapping):
        out: list[Filter] = []
        for name, cond in filters.items():
            if isinstance(cond, Mapping):
                out.extend(Filter(name, op, v) for op, v in cond.items())
            else:
                out.append(Filter(name, FilterOp.eq, cond))
        return out
    out = list(filters)
    for f in out:
        if not isinstance(f, Filter):
            raise InputValidationError(f"filters must be Filter objects or a mapping; got {f!r}")
    return out


@dataclass(frozen=True)
class Hit:
    """One search result: id, distance (see the module docstring), metadata and content."""

    id: uuid.UUID
    distance: float
    metadata: dict[str, Any] = field(default_factory=dict)
    content: dict[str, Any] | None = None


@runtime_checkable
class VectorIndex(Protocol):
    """What both vector backends offer."""

    dim: int
    metric: Metric

    def add(
        self,
        ids: Sequence[uuid.UUID | str] | None,
        vectors: Any,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        *,
        contents: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[uuid.UUID]: ...

    def search(self, vector: Any, k: int = 10, *, filters: FilterSpec = None) -> list[Hit]: ...

    def build(self) -> dict[str, Any]: ...

    def rebuild(self) -> dict[str, Any]: ...

    def __len__(self) -> int: ...


# ---------------------------------------------------------------------- validation
def _as_matrix(vectors: Any, dim: int) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ShapeError(f"vectors must have shape (n, {dim}); got {np.shape(vectors)}")
    if not np.all(np.isfinite(arr)):
        raise InputValidationError("vectors must be finite (no NaN or inf)")
    return np.ascontiguousarray(arr)


def _as_query(vector: Any, dim: int) -> np.ndarray:
    q = np.asarray(vector, dtype=np.float32)
    if q.shape != (dim,):
        raise ShapeError(f"a query vector must have shape ({dim},); got {q.shape}")
    if not np.all(np.isfinite(q)):
        raise InputValidationError("the query vector must be finite (no NaN or inf)")
    return q


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputValidationError(f"k must be a positive integer; got {k!r}")
    return int(k)


def _normalise_inputs(
    ids: Sequence[Any] | None,
    n: int,
    metadata: Sequence[Mapping[str, Any]] | None,
    contents: Sequence[Mapping[str, Any]] | None,
) -> tuple[list[uuid.UUID], list[dict[str, Any]], list[dict[str, Any]]]:
    if ids is None:
        uids = [uuid.uuid4() for _ in range(n)]
    else:
        if len(ids) != n:
            raise ShapeError(f"ids must have one entry per vector ({n}); got {len(ids)}")
        try:
            uids = [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in ids]
        except ValueError as err:
            raise InputValidationError(f"ids must be UUIDs: {err}") from None
    metas = [dict(m) for m in metadata] if metadata is not None else [{} for _ in range(n)]
    if len(metas) != n:
        raise ShapeError(f"metadata must have one mapping per vector ({n}); got {len(metas)}")
    conts = [dict(c) for c in contents] if contents is not None else [{} for _ in range(n)]
    if len(conts) != n:
        raise ShapeError(f"contents must have one mapping per vector ({n}); got {len(conts)}")
    return uids, metas, conts


def _insert_embeddings(
    engine: Engine,
    model_id: int,
    dim: int,
    uids: list[uuid.UUID],
    x: np.ndarray,
    metas: list[dict[str, Any]],
    conts: list[dict[str, Any]],
    batch: int = 5000,
) -> None:
    """Store embeddings in one transaction (PostgreSQL: binary COPY; SQLite: executemany)."""
    with translate_errors():
        with engine.connect() as conn:
            other = conn.execute(
                select(Embedding.dim)
                .where(Embedding.model_id == model_id, Embedding.dim != dim)
                .limit(1)
            ).scalar()
        if other is not None:
            raise ShapeError(
                f"model {model_id} already has embeddings of dimension {other}; "
                f"got vectors of dimension {dim}"
            )
        if backend_of(engine) is Backend.postgresql:
            _copy_embeddings(engine, model_id, dim, uids, x, metas, conts)
            return
        with engine.begin() as conn:
            for s in range(0, len(x), batch):
                conn.execute(
                    insert(Embedding),
                    [
                        {
                            "id": uids[i],
                            "model_id": model_id,
                            "content": conts[i],
                            "vector": x[i],
                            "dim": dim,
                            "metadata": metas[i],
                        }
                        for i in range(s, min(s + batch, len(x)))
                    ],
                )


def _copy_embeddings(
    engine: Engine,
    model_id: int,
    dim: int,
    uids: list[uuid.UUID],
    x: np.ndarray,
    metas: list[dict[str, Any]],
    conts: list[dict[str, Any]],
) -> None:
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    from acie.store.schema import utcnow

    now = utcnow()
    raw = engine.raw_connection()
    try:
        pg: Any = raw.driver_connection
        register_vector(pg)
        with pg.cursor() as cur:
            with cur.copy(
                "COPY embeddings (id, model_id, content, vector, dim, metadata, "
                "created_at) FROM STDIN WITH (FORMAT BINARY)"
            ) as cp:
                cp.set_types(["uuid", "int4", "jsonb", "vector", "int4", "jsonb", "timestamptz"])
                for i in range(len(x)):
                    cp.write_row(
                        (uids[i], model_id, Jsonb(conts[i]), x[i], dim, Jsonb(metas[i]), now)
                    )
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


# ---------------------------------------------------------------------- in-process backend
class MemoryVectorIndex:
    """In-process vector index: exact numpy search, FAISS IVF for large collections.

    Parameters
    ----------
    dim : int
        Vector dimension.
    metric : {"l2", "cosine"}
    ivf_min_size : int
        :meth:`build` trains an IVF index only from this many vectors on; below it
        search stays exact.
    nlist : int, optional
        IVF cells (default ``4·√n``, at most ``n/39``).
    nprobe : int, optional
        Cells probed per query (default ``max(8, nlist // 16)``).
    seed : int
        Seed of the training subsample.
    engine, model_id : optional
        When both are given, :meth:`add` also stores the embeddings in the database
        (``embeddings`` table) so :meth:`from_store` finds them again.
    """

    backend_name = "memory"

    def __init__(
        self,
        *,
        dim: int,
        metric: Metric | str = Metric.l2,
        ivf_min_size: int = 20_000,
        nlist: int | None = None,
        nprobe: int | None = None,
        seed: int = 0,
        engine: Engine | None = None,
        model_id: int | None = None,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 16_000:
            raise InputValidationError(f"dim must be an integer in [1, 16000]; got {dim!r}")
        try:
            self.metric = Metric(metric)
        except ValueError:
            raise UnknownNameError(f"metric must be 'l2' or 'cosine'; got {metric!r}") from None
        self.dim = dim
        self.ivf_min_size = int(ivf_min_size)
        self.nlist = nlist
        self.nprobe = nprobe
        self.seed = seed
        if (engine is None) != (model_id is None):
            raise InputValidationError(
                "give both engine and model_id (to persist embeddings) or neither"
            )
        self.engine = engine
        self.model_id = model_id
        self._chunks: list[np.ndarray] = []
        self._x = np.empty((0, dim), dtype=np.float32)
        self._ids: list[uuid.UUID] = []
        self._meta: list[dict[str, Any]] = []
        self._content: list[dict[str, Any]] = []
        self._columns: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._ivf: Any = None
        self.nlist_: int | None = None
        self.nprobe_: int | None = None

    def __len__(self) -> int:
        return len(self._ids)

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        if self.metric is Metric.cosine:
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            if np.any(norms == 0):
                raise InputValidationError("cosine distance is undefined for zero vectors")
            x = x / norms
        return np.ascontiguousarray(x, dtype=np.float32)

    def _matrix(self) -> np.ndarray:
        if self._chunks:
            self._x = np.concatenate([self._x, *self._chunks])
            self._chunks = []
        return self._x

    def add(
        self,
        ids: Sequence[uuid.UUID | str] | None,
        vectors: Any,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        *,
        contents: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[uuid.UUID]:
        """Add vectors (shape ``(n, dim)``) with optional ids (UUIDs), metadata and content."""
        raw = _as_matrix(vectors, self.dim)
        x = self._prepare(raw)
        uids, metas, conts = _normalise_inputs(ids, len(x), metadata, contents)
        if self.engine is not None and self.model_id is not None:
            _insert_embeddings(self.engine, self.model_id, self.dim, uids, raw, metas, conts)
        self._chunks.append(x)
        self._ids.extend(uids)
        self._meta.extend(metas)
        self._content.extend(conts)
        if self._ivf is not None:
            self._ivf.add(x)  # faiss ids continue 0..n-1 in insertion order
        return uids

    def build(self) -> dict[str, Any]:
        """Train the FAISS IVF index when the collection is large enough (else: exact)."""
        if self._ivf is not None:
            return self.info()
        return self.rebuild()

    def rebuild(self) -> dict[str, Any]:
        """Retrain the IVF index from scratch on the current vectors."""
        x = self._matrix()
        n = len(x)
        self._ivf = None
        self.nlist_ = self.nprobe_ = None
        if n < self.ivf_min_size:
            return self.info()
        import faiss

        # FAISS wants ≥ 39 training points per cell
        nlist = self.nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
        nlist = min(nlist, n)
        quantizer = faiss.IndexFlatL2(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_L2)
        rng = np.random.default_rng(self.seed)
        n_train = min(n, 64 * nlist)
        train = x[rng.choice(n, size=n_train, replace=False)] if n_train < n else x
        ivf.cp.seed = self.seed
        ivf.train(train)
        ivf.add(x)
        self._ivf = ivf
        self.nlist_ = nlist
        self.nprobe_ = min(nlist, self.nprobe or max(8, nlist // 16))
        return self.info()

    def info(self) -> dict[str, Any]:
        """Size and index parameters."""
        return {
            "backend": self.backend_name,
            "n": len(self),
            "dim": self.dim,
            "metric": self.metric.value,
            "index": "ivfflat" if self._ivf is not None else "exact",
            "nlist": self.nlist_,
            "nprobe": self.nprobe_,
        }

    def _column(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(kind, numeric value, raw value) of one metadata field for every row, cached.

        kind: 0 missing or another type, 1 number, 2 string, 3 boolean.
        """
        col = self._columns.get(name)
        if col is None or len(col[0]) != len(self._meta):
            raw = [m.get(name) for m in self._meta]
            kind = np.fromiter(
                (
                    3
                    if isinstance(v, bool)
                    else 1
                    if isinstance(v, int | float)
                    else 2
                    if isinstance(v, str)
                    else 0
                    for v in raw
                ),
                dtype=np.int8,
                count=len(raw),
            )
            num = np.full(len(raw), np.nan)
            is_num = np.flatnonzero(kind == 1)
            num[is_num] = [float(raw[i]) for i in is_num]  # type: ignore[arg-type]
            obj = np.empty(len(raw), dtype=object)
            obj[:] = raw
            col = (kind, num, obj)
            self._columns[name] = col
        return col

    def _filter_mask(self, f: Filter) -> np.ndarray:
        kind, num, obj = self._column(f.field)
        if f.op is FilterOp.isin:
            mask = np.zeros(len(kind), dtype=bool)
            for v in f.value:
                mask |= self._filter_mask(Filter(f.field, FilterOp.eq, v))
            return mask
        v = f.value
        if isinstance(v, bool):
            ok, vals = kind == 3, obj
        elif isinstance(v, int | float):
            ok, vals = kind == 1, num
        else:
            ok, vals = kind == 2, obj
        with np.errstate(invalid="ignore"):
            match f.op:
                case FilterOp.eq:
                    cmp = vals == v
                case FilterOp.ne:
                    cmp = vals != v
                case FilterOp.lt:
                    cmp = vals < v
                case FilterOp.le:
                    cmp = vals <= v
                case FilterOp.gt:
                    cmp = vals > v
                case FilterOp.ge:
                    cmp = vals >= v
        return ok & np.asarray(cmp, dtype=bool)

    def _mask(self, filters: list[Filter]) -> np.ndarray | None:
        if not filters:
            return None
        mask = np.ones(len(self._meta), dtype=bool)
        for f in filters:
            mask &= self._filter_mask(f)
        return mask

    def _to_distance(self, d2: np.ndarray) -> np.ndarray:
        d2 = np.maximum(d2, 0.0)
        if self.metric is Metric.cosine:
            return d2 / 2.0  # unit vectors: |a-b|² = 2(1 - cos)
        return np.sqrt(d2)

    def _exact(
        self, q: np.ndarray, k: int, rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        x = self._matrix()
        sub = x if rows is None else x[rows]
        if len(sub) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        diff = sub - q
        d2 = np.einsum("ij,ij->i", diff, diff)
        k = min(k, len(sub))
        part = np.argpartition(d2, k - 1)[:k]
        order = part[np.argsort(d2[part], kind="stable")]
        pos = order if rows is None else rows[order]
        return pos, d2[order]

    def search(
        self, vector: Any, k: int = 10, *, filters: FilterSpec = None, exact: bool = False
    ) -> list[Hit]:
        """The ``k`` nearest vectors that pass ``filters``, nearest first.

        ``exact=True`` forces exact search (the reference the benchmark compares to).
        """
        k = _check_k(k)
        q = self._prepare(_as_query(vector, self.dim)[None, :])[0]
        mask = self._mask(parse_filters(filters))
        rows = None if mask is None else np.flatnonzero(mask)
        if self._ivf is None or exact or (rows is not None and len(rows) <= 4 * k * 64):
            pos, d2 = self._exact(q, k, rows)
        else:
            pos, d2 = self._ivf_search(q, k, rows)
            want = min(k, len(self) if rows is None else len(rows))
            if len(pos) < want:  # the probed cells held too few matching rows
                pos, d2 = self._exact(q, k, rows)
        dist = self._to_distance(np.asarray(d2, dtype=np.float64))
        return [
            Hit(self._ids[p], float(d), self._meta[p], self._content[p])
            for p, d in zip(pos.tolist(), dist.tolist(), strict=True)
        ]

    def _ivf_search(
        self, q: np.ndarray, k: int, rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        params = faiss.SearchParametersIVF(nprobe=self.nprobe_)  # type: ignore[call-arg]
        if rows is not None:
            sel = faiss.IDSelectorBatch(rows.astype(np.int64))
            params.sel = sel
        d2, pos = self._ivf.search(q[None, :], k, params=params)
        keep = pos[0] >= 0
        return pos[0][keep].astype(np.int64), d2[0][keep]

    def search_many(
        self, queries: Any, k: int = 10, *, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unfiltered batch search; returns (positions (m, k), distances (m, k)).

        Positions index :attr:`ids`. Used by the benchmark; FAISS runs the batch at once.
        """
        k = _check_k(k)
        qs = self._prepare(_as_matrix(queries, self.dim))
        if self._ivf is not None and not exact:
            import faiss

            params = faiss.SearchParametersIVF(nprobe=self.nprobe_)  # type: ignore[call-arg]
            d2, pos = self._ivf.search(qs, k, params=params)
            return pos, self._to_distance(d2.astype(np.float64))
        out_p = np.empty((len(qs), min(k, len(self))), dtype=np.int64)
        out_d = np.empty(out_p.shape)
        for i, q in enumerate(qs):
            p, d2 = self._exact(q, k, None)
            out_p[i], out_d[i] = p, self._to_distance(d2)
        return out_p, out_d

    @property
    def ids(self) -> list[uuid.UUID]:
        """Ids in insertion order."""
        return list(self._ids)

    @classmethod
    def from_store(cls, engine: Engine, model_id: int, **kwargs: Any) -> MemoryVectorIndex:
        """Load every embedding of ``model_id`` from the ``embeddings`` table."""
        with translate_errors(), engine.connect() as conn:
            dim = conn.execute(
                select(Embedding.dim).where(Embedding.model_id == model_id).limit(1)
            ).scalar()
            if dim is None and "dim" not in kwargs:
                raise InputValidationError(f"model {model_id} has no embeddings; give dim=")
            kwargs = {"dim": dim, **kwargs}
            rows = conn.execute(
                select(
                    Embedding.id, Embedding.vector, Embedding.meta.label("meta"), Embedding.content
                )
                .where(Embedding.model_id == model_id)
                .order_by(Embedding.created_at, Embedding.id)
            ).all()
        index = cls(**kwargs)  # loads without persisting, then persists later adds
        if rows:
            index.add(
                [r.id for r in rows],
                np.stack([r.vector for r in rows]),
                [r.meta for r in rows],
                contents=[r.content for r in rows],
            )
        index.engine, index.model_id = engine, model_id
        return index


# ---------------------------------------------------------------------- pgvector backend
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
    ) -> None:
        if backend_of(engine) is not Backend.postgresql:
            raise ConfigurationError(
                f"PgVectorIndex needs PostgreSQL; got a {engine.dialect.name} engine"
            )
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 16_000:
            raise InputValidationError(f"dim must be an integer in [1, 16000]; got {dim!r}")
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
        self.lists_: int | None = None

    @property
    def index_name(self) -> str:
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
        x = _as_matrix(vectors, self.dim)
        uids, metas, conts = _normalise_inputs(ids, len(x), metadata, contents)
        _insert_embeddings(self.engine, self.model_id, self.dim, uids, x, metas, conts, batch)
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
            conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
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
        return max(1, int(round(math.sqrt(lists or self.lists_ or 1))))

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
        k = _check_k(k)
        q = _as_query(vector, self.dim)
        fl = parse_filters(filters)
        params: dict[str, Any] = {"q": "[" + ",".join(repr(float(v)) for v in q) + "]", "k": k}
        where = self._where(fl, params)
        _, op = _PG_OPS[self.metric]
        dist = f"{self._expr()} {op} CAST(:q AS vector({self.dim}))"
        sql = (
            f"WITH c AS MATERIALIZED (SELECT id, metadata, content, {dist} AS distance "
            f"FROM embeddings WHERE {where} ORDER BY {dist} LIMIT :k) "
            f"SELECT id, metadata, content, distance FROM c ORDER BY distance"
        )
        gucs: dict[str, str] = {}
        if exact:
            gucs = {"enable_indexscan": "off", "enable_bitmapscan": "off"}
        elif self.kind is IndexKind.ivfflat:
            gucs["ivfflat.probes"] = str(self._probes(None))
            if self.iterative_scan and fl:
                gucs["ivfflat.iterative_scan"] = "relaxed_order"
        else:
            gucs["hnsw.ef_search"] = str(self.ef_search)
            if self.iterative_scan and fl:
                gucs["hnsw.iterative_scan"] = "relaxed_order"
        # one round trip: transaction-local settings (set_config(..., true) = SET LOCAL)
        set_sql = "SELECT " + ", ".join(f"set_config(:g{i}, :s{i}, true)" for i in range(len(gucs)))
        set_params = {}
        for i, (name, value) in enumerate(gucs.items()):
            set_params[f"g{i}"], set_params[f"s{i}"] = name, value
        with translate_errors(), self.engine.begin() as conn:
            conn.execute(text(set_sql), set_params)
            rows = conn.execute(text(sql), params).all()
        return [
            Hit(
                r.id if isinstance(r.id, uuid.UUID) else uuid.UUID(str(r.id)),
                float(r.distance),
                dict(r.metadata or {}),
                dict(r.content or {}),
            )
            for r in rows
        ]


def open_vector_index(
    settings_or_url: Any = None,
    *,
    model_id: int,
    dim: int | None = None,
    engine: Engine | None = None,
    **options: Any,
) -> VectorIndex:
    """The vector index the configuration asks for.

    ``VECTOR_BACKEND``: ``pgvector`` (needs a PostgreSQL ``ACIE_DATABASE_URL``),
    ``memory`` (loads the model's embeddings from the database into memory), or
    ``auto`` (pgvector on PostgreSQL, memory on SQLite).

    Parameters
    ----------
    settings_or_url : Settings or str, optional
        Settings (default :func:`acie.config.get_settings`) or a database URL (then
        ``auto``).
    model_id : int
    dim : int, optional
        Required when the model has no embeddings yet.
    engine : Engine, optional
    **options
        Passed to the backend's constructor (``lists``, ``probes``, ``kind`` …).
    """
    from acie.config import get_settings
    from acie.store.database import create_engine_for

    if isinstance(settings_or_url, str):
        url, choice = settings_or_url, "auto"
    else:
        s = settings_or_url if settings_or_url is not None else get_settings()
        url, choice = s.database_url, str(s.VECTOR_BACKEND).lower()
    if choice not in {"auto", "memory", "pgvector"}:
        raise ConfigurationError(f"VECTOR_BACKEND must be auto, memory or pgvector; got {choice!r}")
    eng = engine if engine is not None else create_engine_for(url)
    backend = backend_of(eng)
    if choice == "auto":
        choice = "pgvector" if backend is Backend.postgresql else "memory"
    if dim is None:
        with translate_errors(), eng.connect() as conn:
            dim = conn.execute(
                select(Embedding.dim).where(Embedding.model_id == model_id).limit(1)
            ).scalar()
        if dim is None:
            raise InputValidationError(f"model {model_id} has no embeddings yet; give dim=")
    if choice == "pgvector":
        return PgVectorIndex(engine=eng, model_id=model_id, dim=int(dim), **options)
    return MemoryVectorIndex.from_store(eng, model_id, dim=int(dim), **options)
