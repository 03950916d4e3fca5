"""The galaxy embedder inside a task: loaded once per process from its file.

Batches of ``acie data ingest --workers N`` and ``acie index build`` run as tasks of a
``map_tasks(fn, items, **common)`` callable (:mod:`acie.compute`). A task carries an
:class:`EmbedderRef` (the file, ``None`` for the shipped one, and the expected version),
not the torch model; :func:`embedder_for` loads the embedder the first time a process
needs it and keeps it. Every embedder runs torch with one intra-op thread, so a batch's
vectors are the same wherever it is embedded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from acie.errors import ConflictError, expected_got

__all__ = ["EmbedderRef", "embed_task", "embedder_for"]


@dataclass(frozen=True)
class EmbedderRef:
    """What a task needs to load an embedder.

    Attributes
    ----------
    path : str or None
        Embedder file (on a file system every worker sees); ``None``: the shipped one.
    version : str or None
        Expected SHA-256; a worker whose file differs refuses instead of embedding.
    """

    path: str | None
    version: str | None = None

    @classmethod
    def of(cls, embedder: Any, *, shipped: bool = False) -> EmbedderRef:
        """The reference of a loaded :class:`~acie.embedding.embedder.Embedder`."""
        path = None if shipped or embedder.path is None else str(Path(embedder.path).resolve())
        return cls(path=path, version=embedder.version or None)


@functools.lru_cache(maxsize=2)
def _load(path: str | None) -> Any:
    from acie.embedding.embedder import load_default_embedder, load_embedder

    return load_default_embedder(threads=1) if path is None else load_embedder(path, threads=1)


def embedder_for(ref: EmbedderRef) -> Any:
    """The embedder of ``ref`` in this process (loaded on first use, then cached).

    Raises
    ------
    ConflictError
        The file found here is not the expected version.
    """
    emb = _load(ref.path)
    if ref.version is not None and emb.version != ref.version:
        raise ConflictError(
            expected_got(
                f"version of {ref.path or 'the shipped embedder'} on this worker",
                ref.version[:12],
                emb.version[:12],
            )
        )
    return emb


def embed_task(images: np.ndarray, *, embedder: EmbedderRef) -> np.ndarray:
    """Embeddings (n, dim) float32 of one batch of images."""
    return np.asarray(embedder_for(embedder).embed(images), dtype=np.float32)
