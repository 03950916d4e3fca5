"""Vector retrieval: one interface, two backends.

* :class:`MemoryVectorIndex` (``memory.py``) — in-process. Exact search with numpy; for
  collections of at least ``ivf_min_size`` vectors :meth:`~MemoryVectorIndex.build`
  trains a FAISS ``IndexIVFFlat`` (``nlist`` cells, ``nprobe`` probed per query).
* :class:`PgVectorIndex` (``pgvector.py``) — PostgreSQL with pgvector. Rows live in
  ``embeddings``; the index is an IVFFlat (``lists``/``probes``) or HNSW index on
  ``vector::vector(dim)`` restricted to one model (a partial expression index, so one
  table serves models of any dimension).
* :func:`open_vector_index` (``factory.py``) — the backend ``VECTOR_BACKEND`` names.

The interface (:class:`VectorIndex`, :class:`Hit`, :class:`Metric`) is in ``base.py``;
the ``embeddings`` table I/O both backends share in ``embeddings.py``.

Both take metadata filters (``filters.py``: ``{"redshift": {">": 2}}`` or
``[Filter("redshift", ">", 2)]``) and still return ``k`` rows when a filter is selective:
pgvector through iterative index scans (pgvector ≥ 0.8), the memory index by restricting
FAISS to the rows that pass (``IDSelectorBatch``) and falling back to exact search when
the probed cells hold fewer than ``k`` of them.

Distances: ``"l2"`` is the Euclidean distance; ``"cosine"`` is ``1 − cos θ``.
"""

from acie.store.vectors.base import Hit, Metric, VectorIndex
from acie.store.vectors.factory import open_vector_index
from acie.store.vectors.filters import Filter, FilterOp, FilterSpec, parse_filters
from acie.store.vectors.memory import MemoryVectorIndex
from acie.store.vectors.pgvector import IndexKind, PgVectorIndex

__all__ = [
    "Filter",
    "FilterOp",
    "FilterSpec",
    "Hit",
    "IndexKind",
    "MemoryVectorIndex",
    "Metric",
    "PgVectorIndex",
    "VectorIndex",
    "open_vector_index",
    "parse_filters",
]
