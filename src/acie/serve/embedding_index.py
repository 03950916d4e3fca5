"""The one embedder of everything served, its vector index, and the refusal of any other.

``acie serve`` embeds with one embedder everywhere: dataset uploads (``POST
/v1/datasets``), search queries given as an image (``POST /v1/search``), the galaxies of
``retrieve_k`` requests (counterfactuals over REST and gRPC, and jobs) and the images of
finished jobs. It is the embedder of the command line (``acie data ingest``, ``acie index
build``): the shipped contrastive galaxy embedder (:mod:`acie.embedding`, 32 numbers per
image). Its vectors live in the index of its model-registry row (name
``galaxy-embedder``, version the SHA-256 of its file;
:func:`acie.store.embedder_index.open_embedder_index`), so the index records which
embedder, at which version and dimension, made every vector it holds.

Whatever was made by another embedder is refused with :class:`EmbedderMismatchError`
(INVALID_ARGUMENT / 400), naming both: a search vector whose length is not the index's
(the 128 deep-SCM encoder features that servers stored before), a request naming
another embedder, a dataset whose vectors another embedder made (an upload ingested
before the switch), an index whose stored vectors have another dimension, and a
``retrieve_k`` request for a model whose images the embedder does not take. Vectors of
the old deep-SCM index stay in the database under their own model row and are never
compared with galaxy-embedder vectors; ``acie index build CATALOGUE --images CUBE``
re-embeds a cube into the served index (docs/data.md).

:func:`served_embedding` opens the embedder and its index once per server
(:func:`acie.serve.server.build_runtime`); the index is the server's only one
(``ServingRuntime.vector_index``), and :func:`served_for` / :func:`served_of` give its
embedder back. The REST routes, the gRPC service and the worker thread of one ``acie
serve`` process share it, so the in-memory index the worker adds to is the one the
routes search.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from acie.errors import BackendUnavailableError, InputValidationError, ShapeError
from acie.store.embedder_index import EmbedderIndex

__all__ = [
    "EmbedderMismatchError",
    "ServedEmbedding",
    "embedder_of_model",
    "served_embedding",
    "served_for",
    "served_of",
]

log = logging.getLogger("acie.serve.embedding_index")


class EmbedderMismatchError(InputValidationError):
    """A vector, request, dataset or index made by another embedder than the served one."""


@dataclass(frozen=True)
class ServedEmbedding:
    """The served embedder and the index of its vectors.

    Parameters
    ----------
    target : EmbedderIndex
        The embedder (:class:`acie.embedding.embedder.Embedder`), its model-registry id
        and its vector index.
    """

    target: EmbedderIndex

    @property
    def embedder(self) -> Any:
        """The :class:`~acie.embedding.embedder.Embedder`."""
        return self.target.embedder

    @property
    def index(self) -> Any:
        """The vector index of its embeddings."""
        return self.target.index

    @property
    def model_id(self) -> int:
        """Its model-registry id (the ``model_id`` of its vectors and datasets)."""
        return self.target.model_id

    @property
    def name(self) -> str:
        """``galaxy-embedder:<SHA-256 of the embedder file>``."""
        from acie.embedding import EMBEDDER_NAME

        return f"{EMBEDDER_NAME}:{self.embedder.version}"

    @property
    def dim(self) -> int:
        """Length of its vectors."""
        return int(self.embedder.dim)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(bands, H, W) of the images it embeds [nanomaggies / pixel]."""
        b, h, w = self.embedder.image_shape
        return (int(b), int(h), int(w))

    def describe(self) -> dict[str, Any]:
        """``{"embedder", "dim", "metric"}``: what made the index's vectors, and the distance."""
        metric = getattr(self.index, "metric", "l2")
        return {
            "embedder": self.name,
            "dim": self.dim,
            "metric": str(getattr(metric, "value", metric)),
        }

    def embed(self, images: Any) -> np.ndarray:
        """Vectors (n, dim) of images (n, C, H, W); ShapeError unless (C, H, W) is :attr:`image_shape`."""
        return np.asarray(self.embedder.embed(images), dtype=np.float32)

    def check_query(self, n_values: int, embedder: str | None = None) -> None:
        """Refuse a query vector of ``n_values`` numbers, or one that names another embedder."""
        if embedder is not None and embedder != self.name:
            raise EmbedderMismatchError(
                f"the query vector was made by {embedder!r}; this server's index holds "
                f"{self.name} vectors ({self.dim}-d): embed the query with that embedder, "
                "or send the image instead of a vector"
            )
        if n_values != self.dim:
            raise EmbedderMismatchError(
                f"the query vector has {n_values} numbers; this server's index holds "
                f"{self.name} vectors ({self.dim}-d) (deep-SCM encoder features, which the "
                "index held before, have 128): embed with the galaxy embedder, or send the "
                "image instead of a vector"
            )

    def query_vector(
        self,
        *,
        image: np.ndarray | None = None,
        vector: Sequence[float] | None = None,
        embedder: str | None = None,
    ) -> list[float]:
        """The search vector of a query (REST and gRPC search).

        ``image`` (one galaxy, (1, C, H, W) or (C, H, W)) is embedded here; ``vector`` is
        checked against this embedder.

        Raises ShapeError for more than one image, EmbedderMismatchError for an image or
        vector this embedder did not or cannot make.
        """
        if image is not None:
            img = image[None] if image.ndim == 3 else image
            if img.ndim != 4 or img.shape[0] != 1:
                raise ShapeError(
                    f"image must be one galaxy, (1, C, H, W) or (C, H, W); got {image.shape}"
                )
            self.check_images(img.shape[1:], "search image")
            return [float(v) for v in self.embed(img)[0]]
        values = list(vector or [])
        self.check_query(len(values), embedder)
        return values

    def check_images(self, shape: tuple[int, ...], what: str) -> None:
        """Refuse ``what`` (e.g. retrieve_k) for images of (C, H, W) ``shape`` it cannot embed."""
        if tuple(int(s) for s in shape) != self.image_shape:
            raise EmbedderMismatchError(
                f"{what}: the index's embedder {self.name} takes {self.image_shape} images; "
                f"these are {tuple(shape)}"
            )

    def check_dataset(self, dataset_id: str, model_id: int | None, engine: Engine) -> None:
        """Refuse a dataset whose vectors another embedder made (ingested before a switch)."""
        if model_id is None or model_id == self.model_id:
            return
        other, dim = embedder_of_model(engine, model_id)
        raise EmbedderMismatchError(
            f"dataset {dataset_id} was embedded by {other} ({dim}-d vectors); this server "
            f"searches {self.name} vectors ({self.dim}-d), so its images are not found: "
            "rebuild its vectors with `acie index build CATALOGUE --images CUBE` "
            "(docs/data.md, 'Vectors of another embedder')"
        )


def embedder_of_model(engine: Engine, model_id: int) -> tuple[str, int | None]:
    """``("<name>:<version>", dim)`` of a model-registry row (dim: of its stored vectors)."""
    from acie.store.schema import Embedding, Model

    with engine.connect() as conn:
        row = conn.execute(select(Model.name, Model.version).where(Model.id == model_id)).first()
        dim = conn.execute(
            select(Embedding.dim).where(Embedding.model_id == model_id).limit(1)
        ).scalar()
    name = f"{row[0]}:{row[1]}" if row is not None else f"model {model_id}"
    return name, None if dim is None else int(dim)


_lock = threading.Lock()
# the served index -> (embedder, model id): the value must not hold the index, or the
# weak key would never be freed
_by_index: weakref.WeakKeyDictionary[Any, tuple[Any, int]] = weakref.WeakKeyDictionary()


def _backend(engine: Engine, settings: Any) -> str:
    """``pgvector`` or ``memory``: ``VECTOR_BACKEND`` of the settings, else by the database."""
    from acie.errors import ConfigurationError
    from acie.store.database import Backend, backend_of

    choice = str(getattr(settings, "VECTOR_BACKEND", "auto")).lower()
    if choice not in ("auto", "memory", "pgvector"):
        raise ConfigurationError(f"VECTOR_BACKEND must be auto, memory or pgvector; got {choice!r}")
    if choice != "auto":
        return choice
    return "pgvector" if backend_of(engine) is Backend.postgresql else "memory"


def _open(engine: Engine, embedder: Any, backend: str) -> ServedEmbedding:
    from acie.store.embedder_index import register_embedder
    from acie.store.schema import Embedding
    from acie.store.vectors.memory import MemoryVectorIndex
    from acie.store.vectors.pgvector import PgVectorIndex

    model_id = register_embedder(engine, embedder)
    served = ServedEmbedding(EmbedderIndex(embedder=embedder, model_id=model_id, index=None))
    other, stored = embedder_of_model(engine, model_id)
    if stored is not None and stored != embedder.dim:
        raise EmbedderMismatchError(
            f"the vector index of {other} holds {stored}-d vectors; the served embedder "
            f"{served.name} makes {embedder.dim}-d ones: rebuild the index with `acie index "
            "build` (docs/data.md)"
        )
    if backend == "pgvector":
        index: Any = PgVectorIndex(engine=engine, model_id=model_id, dim=int(embedder.dim))
    else:
        index = MemoryVectorIndex.from_store(engine, model_id, dim=int(embedder.dim))
    with engine.connect() as conn:
        legacy = conn.execute(
            select(func.count()).select_from(Embedding).where(Embedding.model_id != model_id)
        ).scalar_one()
    if legacy:
        log.warning(
            "%d stored vectors were made by other embedders and are not searched; "
            "rebuild them with `acie index build` (docs/data.md)",
            legacy,
            extra={"embedder": served.name},
        )
    return ServedEmbedding(EmbedderIndex(embedder=embedder, model_id=model_id, index=index))


def served_embedding(
    engine: Engine, *, settings: Any = None, embedder: Any = None
) -> ServedEmbedding:
    """Open the served embedder and its index on ``engine`` (what ``acie serve`` serves).

    The index is remembered as a served one: :func:`served_of` finds the embedder of it
    (``ServingRuntime.vector_index`` is this index).

    Parameters
    ----------
    engine : Engine
        The database holding the model registry and the ``embeddings`` table.
    settings : Settings, optional
        ``VECTOR_BACKEND`` (``auto``: pgvector on PostgreSQL, in-memory otherwise).
    embedder : Embedder, optional
        Default: the shipped galaxy embedder (:func:`acie.embedding.load_default_embedder`).

    Raises
    ------
    EmbedderMismatchError
        The stored vectors of the embedder's registry row have another dimension.
    """
    if embedder is None:
        from acie.embedding.embedder import load_default_embedder

        embedder = load_default_embedder()
    served = _open(engine, embedder, _backend(engine, settings))
    with _lock:
        _by_index[served.index] = (served.embedder, served.model_id)
    return served


def served_of(index: Any) -> ServedEmbedding | None:
    """The served embedding whose index is ``index`` (None for any other index, or None)."""
    if index is None:
        return None
    with _lock:
        found = _by_index.get(index)
    if found is None:
        return None
    embedder, model_id = found
    return ServedEmbedding(EmbedderIndex(embedder=embedder, model_id=model_id, index=index))


def served_for(rt: Any) -> ServedEmbedding:
    """The served embedding of a runtime (its ``vector_index``); BackendUnavailableError without."""
    served = served_of(rt.vector_index)
    if served is None:
        why = getattr(rt, "vector_index_problem", None)
        raise BackendUnavailableError(
            "this server has no embedding index" + (f": {why}" if why else "")
        )
    return served
