"""Ingest an image cube and its catalogue: hash, check, store, embed, index, record.

:func:`ingest_dataset` runs every step of ``acie data ingest`` and of the
``POST /v1/datasets`` job. The dataset's identity is the SHA-256 of the raw cube file:
ingesting a file already ingested returns the existing dataset. Nothing is left
half-written: the files are stored atomically, all vectors go into the store in one
transaction, and if any step fails, what this call stored is removed again (files and
vectors) before the error propagates; the ``datasets`` row is written last.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, insert, select, update

from acie._files import atomic_output
from acie.errors import ConflictError, InputValidationError, OutOfRangeError, StoreError
from acie.store.database import translate_errors
from acie.store.dataset_files import check_cube, read_catalogue, read_cube
from acie.store.schema import Dataset, Embedding

__all__ = [
    "DATASET_NAMESPACE",
    "DatasetInfo",
    "dataset_by_id",
    "dataset_by_sha",
    "embed_batches",
    "ingest_dataset",
    "set_dataset_model",
    "sha256_file",
]

#: namespace of dataset ids: a dataset's id is uuid5(DATASET_NAMESPACE, cube SHA-256)
DATASET_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "acie:datasets")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DatasetInfo:
    """A stored dataset; ``created`` is False when it existed already (same SHA-256)."""

    id: str
    sha256: str
    catalogue_sha256: str
    name: str
    owner: str | None
    shared: bool
    n_images: int
    bands: int
    height: int
    width: int
    path: str
    model_id: int | None
    created_at: str
    created: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dict(self.__dict__)


def sha256_file(path: str | Path) -> str:
    """Lowercase hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _info(row: Any, created: bool = False) -> DatasetInfo:
    return DatasetInfo(
        id=str(row.id),
        sha256=row.sha256,
        catalogue_sha256=row.catalogue_sha256,
        name=row.name,
        owner=row.owner,
        shared=bool(row.shared),
        n_images=int(row.n_images),
        bands=int(row.bands),
        height=int(row.height),
        width=int(row.width),
        path=row.path,
        model_id=row.model_id,
        created_at=row.created_at.isoformat(),
        created=created,
    )


def dataset_by_sha(engine: Engine, sha256: str) -> DatasetInfo | None:
    """The dataset whose cube has this SHA-256, or None."""
    with translate_errors(), engine.connect() as conn:
        row = conn.execute(select(Dataset).where(Dataset.sha256 == sha256)).first()
    return None if row is None else _info(row)


def dataset_by_id(engine: Engine, dataset_id: str) -> DatasetInfo | None:
    """The dataset with this id (a UUID string), or None."""
    try:
        uid = uuid.UUID(str(dataset_id))
    except ValueError:
        return None
    with translate_errors(), engine.connect() as conn:
        row = conn.execute(select(Dataset).where(Dataset.id == uid)).first()
    return None if row is None else _info(row)


def set_dataset_model(engine: Engine, dataset_id: str, model_id: int) -> None:
    """Record that the model-registry row ``model_id`` made the dataset's searched vectors.

    ``acie index build`` calls it after re-embedding a stored dataset's cube with the
    served embedder (its vectors were made by another one before).
    """
    with translate_errors(), engine.begin() as conn:
        conn.execute(
            update(Dataset)
            .where(Dataset.id == uuid.UUID(str(dataset_id)))
            .values(model_id=model_id)
        )


def embed_batches(
    embed: Callable[[np.ndarray], Any],
    cube: np.ndarray,
    *,
    batch: int = 256,
    progress: Progress | None = None,
    map_tasks: Callable[..., Iterable[Any]] | None = None,
) -> np.ndarray:
    """Embed ``cube`` (N, C, H, W) ``batch`` images at a time; ``progress(done, total)``.

    With ``map_tasks(fn, items, **common)`` (e.g. an :class:`acie.compute.executor.Executor`)
    each batch is a task ``embed(images)``: ``embed`` must then be picklable and light,
    e.g. ``functools.partial(encoder_features_task, engine=EngineRef(...))``
    (:mod:`acie.deepscm.worker_engine`), which loads the engine once per worker. The
    batches are the same either way, so the vectors are too.
    """
    if batch < 1:
        raise InputValidationError(f"batch must be ≥ 1; got {batch}")
    starts = range(0, len(cube), batch)
    if map_tasks is None:
        results: Iterable[Any] = (embed(cube[s : s + batch]) for s in starts)
    else:
        results = map_tasks(embed, [cube[s : s + batch] for s in starts])
    out = []
    for s, vectors in zip(starts, results, strict=True):
        out.append(np.asarray(vectors, dtype=np.float32))
        if progress is not None:
            progress(min(s + batch, len(cube)), len(cube))
    return np.concatenate(out, axis=0)


def _store(src: Path, dest: Path) -> None:
    with atomic_output(dest) as tmp:
        shutil.copyfile(src, tmp)


def ingest_dataset(
    *,
    engine: Engine,
    cube_path: str | Path,
    catalogue_path: str | Path,
    data_dir: str | Path,
    image_shape: tuple[int, int, int],
    embed: Callable[[np.ndarray], Any],
    index: Any,
    model_id: int | None,
    max_bytes: int,
    name: str | None = None,
    owner: str | None = None,
    shared: bool = False,
    batch: int = 256,
    progress: Progress | None = None,
    map_tasks: Callable[..., Iterable[Any]] | None = None,
) -> DatasetInfo:
    """Ingest a cube and its catalogue into ``data_dir`` and the vector ``index``.

    Parameters
    ----------
    engine : Engine
        The migrated database (``datasets`` table).
    cube_path, catalogue_path : path
        The raw upload: cube (.fits/.h5/.npy) and catalogue (.csv/.fits).
    data_dir : path
        ``ACIE_DATA_DIR``; files go to ``datasets/<sha256>/``.
    image_shape : (bands, H, W)
        What the encoder embeds (the deep SCM engine's ``image_shape``).
    embed : callable
        images (n, C, H, W) → vectors (n, dim) (the deep SCM encoder's features).
    index : VectorIndex
        Where the vectors go, with metadata redshift, ra, dec, survey, instrument,
        catalogue_id, dataset_id, owner and shared.
    model_id : int or None
        The embedding model's registry id (stored with the dataset).
    max_bytes : int
        ``MAX_DATASET_BYTES``: larger uploads (cube plus catalogue) are refused.
    name, owner, shared
        Dataset name (default: the cube's file name), owner and sharing.
    batch : int
        Images embedded per batch.
    progress : callable(done, total), optional
        Called after each embedded batch.
    map_tasks : callable, optional
        Runs the embedding batches as tasks (see :func:`embed_batches`).
    """
    cube_p, cat_p = Path(cube_path), Path(catalogue_path)
    size = cube_p.stat().st_size + cat_p.stat().st_size
    if size > max_bytes:
        raise OutOfRangeError(
            f"an upload may be at most MAX_DATASET_BYTES = {max_bytes} bytes; got {size}"
        )
    sha, cat_sha = sha256_file(cube_p), sha256_file(cat_p)
    existing = dataset_by_sha(engine, sha)
    if existing is not None:
        return _same(existing, cat_sha)
    cube = read_cube(cube_p)
    check_cube(cube, tuple(image_shape))  # type: ignore[arg-type]
    cat = read_catalogue(cat_p)
    if len(cat) != len(cube):
        raise InputValidationError(
            f"the catalogue must have one row per image ({len(cube)}); got {len(cat)} rows"
        )
    dataset_id = uuid.uuid5(DATASET_NAMESPACE, sha)
    rel = Path("datasets") / sha
    dest = Path(data_dir) / rel
    stored: list[Path] = []
    vector_ids: list[uuid.UUID] = []
    try:
        for src, stem in ((cube_p, "cube"), (cat_p, "catalogue")):
            target = dest / f"{stem}{src.suffix.lower()}"
            _store(src, target)
            stored.append(target)
        vectors = embed_batches(embed, cube, batch=batch, progress=progress, map_tasks=map_tasks)
        metas = [
            {**cat.row(i), "dataset_id": str(dataset_id), "owner": owner or "", "shared": shared}
            for i in range(len(cat))
        ]
        ids = [uuid.uuid5(dataset_id, f"image-{i}") for i in range(len(cat))]
        index.add(ids, vectors, metas)  # one transaction: all vectors or none
        vector_ids = ids
        row = {
            "id": dataset_id,
            "sha256": sha,
            "catalogue_sha256": cat_sha,
            "name": name or cube_p.name,
            "owner": owner,
            "shared": bool(shared),
            "n_images": int(cube.shape[0]),
            "bands": int(cube.shape[1]),
            "height": int(cube.shape[2]),
            "width": int(cube.shape[3]),
            "path": rel.as_posix(),
            "model_id": model_id,
            "meta": {"cube_file": cube_p.name, "catalogue_file": cat_p.name},
        }
        with translate_errors(), engine.begin() as conn:
            conn.execute(insert(Dataset).values(**row))
    except BaseException:
        again = dataset_by_sha(engine, sha)
        if again is not None:  # a concurrent ingest of the same file won: it owns all
            return _same(again, cat_sha)
        _undo(engine, vector_ids, stored, dest)
        raise
    info = dataset_by_sha(engine, sha)
    if info is None:
        raise StoreError(f"dataset {sha} was not recorded")
    return DatasetInfo(**{**info.as_dict(), "created": True})


def _same(existing: DatasetInfo, cat_sha: str) -> DatasetInfo:
    if existing.catalogue_sha256 != cat_sha:
        raise ConflictError(
            f"this cube (SHA-256 {existing.sha256[:12]}…) was ingested as dataset "
            f"{existing.id} with another catalogue (SHA-256 {existing.catalogue_sha256[:12]}…)"
        )
    return existing


def _undo(engine: Engine, vector_ids: list[uuid.UUID], stored: list[Path], dest: Path) -> None:
    if vector_ids:
        with translate_errors(), engine.begin() as conn:
            for s in range(0, len(vector_ids), 1000):
                conn.execute(delete(Embedding).where(Embedding.id.in_(vector_ids[s : s + 1000])))
    for path in stored:
        path.unlink(missing_ok=True)
    if dest.is_dir() and not any(dest.iterdir()):
        dest.rmdir()
