"""The dataset-ingestion job: queue an upload, and the worker's handler that ingests it.

``POST /v1/datasets`` stages the raw upload in its own folder under ``ACIE_DATA_DIR/uploads/``
and queues a job of kind ``"ingest"`` (:func:`submit_ingest`); the serving worker
hands such jobs to :func:`handle_ingest`, which runs
:func:`acie.store.datasets.ingest_dataset` with the shipped contrastive galaxy embedder
(:mod:`acie.embedding`; its vectors go to the index of its model-registry row,
:func:`acie.store.embedder_index.open_embedder_index`) and then removes the staged files. Bad
input fails the job at once (an :class:`~acie.errors.InputValidationError`: no retry)
and leaves nothing stored. The job's request id is derived from the owner and the
SHA-256 of cube and catalogue, so submitting the same upload twice gives the same job
(and a corrected catalogue for a cube whose ingestion failed gets a new one).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from acie.errors import BackendUnavailableError, ConflictError, InputValidationError
from acie.store.datasets import dataset_by_sha, ingest_dataset
from acie.store.embedder_index import EmbedderIndex, open_embedder_index

__all__ = ["INGEST_KIND", "handle_ingest", "ingest_request_id", "submit_ingest"]

log = logging.getLogger("acie.jobs.ingest")

#: ``payload["kind"]`` of ingestion jobs
INGEST_KIND = "ingest"


def ingest_request_id(owner: str, sha256: str, catalogue_sha256: str) -> str:
    """The queue request id of ``owner``'s ingestion of this cube with this catalogue."""
    return f"{len(owner)}:{owner}/ingest-{sha256}-{catalogue_sha256}"


def submit_ingest(
    queue: Any,
    *,
    owner: str,
    sha256: str,
    catalogue_sha256: str,
    cube_path: Path,
    catalogue_path: Path,
    data_dir: Path,
    max_bytes: int,
    name: str | None = None,
    shared: bool = False,
    trace_id: str | None = None,
) -> Any:
    """Queue the ingestion of a staged upload; returns the job (an existing one when queued)."""
    payload = {
        "kind": INGEST_KIND,
        "request_id": f"ingest-{sha256}-{catalogue_sha256}",
        "sha256": sha256,
        "cube": str(cube_path),
        "catalogue": str(catalogue_path),
        "data_dir": str(data_dir),
        "max_bytes": int(max_bytes),
        "name": name,
        "shared": bool(shared),
        "trace_id": trace_id,
    }
    return queue.submit(ingest_request_id(owner, sha256, catalogue_sha256), payload, user_sub=owner)


def handle_ingest(
    job: Any,
    *,
    index: Any = None,
    embed: Callable[[np.ndarray], Any] | None = None,
    image_shape: tuple[int, int, int] | None = None,
    batch: int = 256,
    target: EmbedderIndex | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> dict[str, Any]:
    """Ingest the upload a job names (the worker's handler for ``kind == "ingest"``).

    Parameters
    ----------
    job : Job
        Payload from :func:`submit_ingest`.
    index : VectorIndex, optional
        The index ``embed``'s vectors go to; its ``engine`` holds the ``datasets`` table
        and the model registry. Not needed with ``target`` (the served index,
        :mod:`acie.serve.embedding_index`).
    embed : callable, optional
        images -> vectors for ``index`` (the caller's own embedding, e.g. a runtime that
        indexes deep SCM features). Without it (and without ``target``) the dataset is
        embedded by the shipped galaxy embedder into its own index on ``index.engine``.
    image_shape : (bands, H, W), optional
        What ``embed`` takes (required with ``embed``).
    batch : int
        Images embedded per batch.
    target : EmbedderIndex, optional
        The galaxy embedder and its index to use (overrides ``embed`` and ``index``).
    progress : callable(batches_done, batches_total), optional
        Called after each embedded batch (the worker records it on the job,
        :func:`acie.jobs.progress.record_progress`, for the job's WebSocket).

    Returns
    -------
    dict
        ``{"kind": "ingest", "dataset": {...}}``.
    """
    engine = getattr(index, "engine", None) if target is None else target.index.engine
    if engine is None:
        raise BackendUnavailableError("this worker has no embedding index to ingest into")
    if embed is not None and image_shape is None:
        raise InputValidationError("handle_ingest: give image_shape with embed; got None")
    p = job.payload or {}
    staged = Path(p["cube"]).parent
    existing = dataset_by_sha(engine, str(p.get("sha256")))
    if existing is not None:  # ingested meanwhile (another user's upload of the same cube)
        shutil.rmtree(staged, ignore_errors=True)
        if target is not None and existing.model_id not in (None, target.model_id):
            raise InputValidationError(
                f"dataset {existing.id} was embedded by model {existing.model_id}, not by the "
                f"served embedder (model {target.model_id}); rebuild its vectors with "
                "`acie index build CATALOGUE --images CUBE` (docs/data.md)"
            )
        return {"kind": INGEST_KIND, "dataset": existing.as_dict()}
    done = False
    try:
        if target is None and embed is None:
            target = open_embedder_index(engine=engine)
        if target is not None:
            embed, image_shape = target.embedder.embed, target.embedder.image_shape
            index = target.index
        info = ingest_dataset(
            engine=engine,
            cube_path=p["cube"],
            catalogue_path=p["catalogue"],
            data_dir=p["data_dir"],
            image_shape=image_shape,  # type: ignore[arg-type]
            embed=embed,  # type: ignore[arg-type]
            index=index,
            model_id=getattr(index, "model_id", None),
            max_bytes=int(p["max_bytes"]),
            name=p.get("name"),
            owner=job.user_sub,
            shared=bool(p.get("shared")),
            batch=batch,
            progress=lambda n, total: _batch_done(job, n, total, batch, progress),
        )
        done = True
    except ConflictError as err:  # same cube, other catalogue: retrying cannot help
        done = True
        raise InputValidationError(str(err)) from err
    except InputValidationError:
        done = True
        raise
    finally:
        if done:
            shutil.rmtree(staged, ignore_errors=True)
    return {"kind": INGEST_KIND, "dataset": info.as_dict()}


def _batch_done(
    job: Any, n: int, total: int, batch: int, progress: Callable[[int, int], Any] | None
) -> None:
    """Images ``n`` of ``total`` embedded: report batches done of the batches planned."""
    done, planned = -(-n // batch), -(-total // batch)
    log.info("ingest progress", extra={"job_id": str(job.id), "done": done, "total": planned})
    if progress is not None:
        progress(done, planned)
