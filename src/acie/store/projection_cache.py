"""The explorer's projections, computed once and kept on disk per (catalogue, model, method).

:meth:`ProjectionCache.payload` returns the encoded 2-D map of a catalogue
(:mod:`acie.analysis.embedding_catalogues`, :func:`acie.analysis.projection.project`) as
a column payload (:mod:`acie.wire.typed_arrays`: float32 ``x``, ``y`` and uint32 ``id``,
12 bytes per point). The payload file is named by the SHA-256 of the catalogue name, the
model version and the concrete method, so a new model version gets a new map and
an old one is never served for it; files are written atomically
(:func:`acie._files.atomic_output`), so concurrent servers at worst compute the same map
twice. Concurrent requests in one process compute it once (a lock per key).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from acie._files import write_bytes
from acie.analysis.embedding_catalogues import load_embedding_catalogue
from acie.analysis.projection import project, resolve_method
from acie.wire.typed_arrays import encode_columns

__all__ = ["CachedPayload", "ProjectionCache"]


@dataclass(frozen=True)
class CachedPayload:
    """An encoded projection and whether it came from the disk cache."""

    data: bytes
    method: str
    hit: bool
    seconds: float


class ProjectionCache:
    """Projection payloads under ``root`` (created on first write).

    Parameters
    ----------
    root : Path
        Folder of the payload files (``ACIE_DATA_DIR/projections`` in ``acie serve``).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path_for(self, catalogue: str, model_version: str, method: str) -> Path:
        """The file of one (catalogue, model version, concrete method)."""
        key = "\x1f".join((catalogue, model_version, method)).encode()
        return self.root / f"{hashlib.sha256(key).hexdigest()[:40]}.acol"

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def payload(self, catalogue: str, model_version: str, method: str = "auto") -> CachedPayload:
        """The projection payload of ``catalogue``, from disk or computed now.

        Raises
        ------
        UnknownNameError
            Unknown catalogue.
        InputValidationError
            Unknown or unavailable method.
        """
        used = resolve_method(method).value
        path = self.path_for(catalogue, model_version, used)
        t0 = time.perf_counter()
        with self._lock(path.name):
            if path.exists():
                return CachedPayload(path.read_bytes(), used, True, time.perf_counter() - t0)
            cat = load_embedding_catalogue(catalogue)
            xy, _ = project(cat.embeddings, used, seed=0)
            data = encode_columns(
                {"x": xy[:, 0], "y": xy[:, 1], "id": cat.ids},
                meta={
                    "catalogue": catalogue,
                    "model_version": model_version,
                    "method": used,
                    "embedding_columns": list(cat.embedding_columns),
                },
            )
            self.root.mkdir(parents=True, exist_ok=True)
            write_bytes(path, data)
            return CachedPayload(data, used, False, time.perf_counter() - t0)
