"""In-process vector index: exact numpy search; FAISS IVF or HNSW for large collections.

For collections of at least ``ivf_min_size`` vectors :meth:`MemoryVectorIndex.build`
trains a FAISS ``IndexIVFFlat`` (``nlist`` cells, ``nprobe`` probed per query) or, with
``ann="hnsw"``, builds a FAISS ``IndexHNSWFlat`` (``hnsw_m`` links per node,
``ef_construction``, ``ef_search``): the graph is what reaches sub-millisecond queries
at recall@10 ≥ 0.95 on 10⁶ vectors (dim 32, M 32, efConstruction 80: recall 0.966 at
efSearch 64, 0.990 at the default 128, p50 0.40 and 0.65 ms on a loaded core;
``benchmarks/bench_vectors.py``, docs/data.md). A
selective filter still returns ``k`` rows: FAISS is restricted to the rows that pass
(``IDSelectorBatch``), falling back to exact search when the search finds fewer
than ``k`` of them.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from acie.errors import InputValidationError, UnknownNameError
from acie.store.database import translate_errors
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
from acie.store.vectors.embeddings import insert_embeddings, stored_dim
from acie.store.vectors.filters import Filter, FilterOp, FilterSpec, parse_filters

__all__ = ["MemoryVectorIndex"]

_ANN_NAMES = {"ivf": "ivfflat", "hnsw": "hnsw"}


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
        Cells probed per query (default ``max(16, nlist // 32)``: recall@10 1.000 at
        2·10⁴, 2·10⁵ and 10⁶ clustered vectors of dim 32, p50 0.05–0.5 ms; the previous
        ``nlist // 16`` cost 1.07 ms at 10⁶ for no gain; ``benchmarks/bench_vectors.py
        --ann ivf --nprobe ...``).
    ann : {"ivf", "hnsw"}
        The approximate index :meth:`build` makes.
    hnsw_m, ef_construction, ef_search : int
        HNSW links per node, build-time and query-time candidate lists (``ann="hnsw"``).
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
        ann: str = "ivf",
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 128,
        seed: int = 0,
        engine: Engine | None = None,
        model_id: int | None = None,
    ) -> None:
        check_dim(dim)
        try:
            self.metric = Metric(metric)
        except ValueError:
            raise UnknownNameError(f"metric must be 'l2' or 'cosine'; got {metric!r}") from None
        if ann not in ("ivf", "hnsw"):
            raise UnknownNameError(f"ann must be 'ivf' or 'hnsw'; got {ann!r}")
        for name, v in (("hnsw_m", hnsw_m), ("ef_construction", ef_construction)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 2:
                raise InputValidationError(f"{name} must be an integer ≥ 2; got {v!r}")
        self.ann, self.hnsw_m, self.ef_construction = ann, hnsw_m, ef_construction
        self.ef_search = check_k(ef_search)
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
        raw = as_matrix(vectors, self.dim)
        x = self._prepare(raw)
        uids, metas, conts = normalise_inputs(ids, len(x), metadata, contents)
        if self.engine is not None and self.model_id is not None:
            insert_embeddings(self.engine, self.model_id, self.dim, uids, raw, metas, conts)
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

        if self.ann == "hnsw":
            hnsw = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_L2)
            hnsw.hnsw.efConstruction = self.ef_construction
            hnsw.add(x)
            self._ivf = hnsw
            return self.info()
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
        self.nprobe_ = min(nlist, self.nprobe or max(16, nlist // 32))
        return self.info()

    def info(self) -> dict[str, Any]:
        """Size and index parameters."""
        return {
            "backend": self.backend_name,
            "n": len(self),
            "dim": self.dim,
            "metric": self.metric.value,
            "index": "exact" if self._ivf is None else _ANN_NAMES[self.ann],
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
        k = check_k(k)
        q = self._prepare(as_query(vector, self.dim)[None, :])[0]
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

        params = self._params(faiss, k)
        if rows is not None:
            sel = faiss.IDSelectorBatch(rows.astype(np.int64))
            params.sel = sel
        d2, pos = self._ivf.search(q[None, :], k, params=params)
        keep = pos[0] >= 0
        return pos[0][keep].astype(np.int64), d2[0][keep]

    def _params(self, faiss: Any, k: int) -> Any:
        if self.ann == "hnsw":
            return faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        return faiss.SearchParametersIVF(nprobe=self.nprobe_)

    def search_many(
        self, queries: Any, k: int = 10, *, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unfiltered batch search; returns (positions (m, k), distances (m, k)).

        Positions index :attr:`ids`. Used by the benchmark; FAISS runs the batch at once.
        """
        k = check_k(k)
        qs = self._prepare(as_matrix(queries, self.dim))
        if self._ivf is not None and not exact:
            import faiss

            d2, pos = self._ivf.search(qs, k, params=self._params(faiss, k))
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
        dim = stored_dim(engine, model_id)
        if dim is None and "dim" not in kwargs:
            raise InputValidationError(f"model {model_id} has no embeddings; give dim=")
        kwargs = {"dim": dim, **kwargs}
        with translate_errors(), engine.connect() as conn:
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
