"""The images of finished counterfactual jobs in the served index: one job's, or all again.

The worker embeds the observations of every job that passes the physics check into
the served galaxy embedder's index (:func:`index_job_images`, called by
:class:`acie.serve.job_service.JobRunner`), with the job's id, request id, owner,
sharing flag, image index, model version and factual properties as metadata, so
``POST /v1/search`` shows each image to its owner (and to collaborators when shared).

Jobs that finished before the galaxy embedder served search (their vectors were
deep-SCM features, under the model row ``galaxy-deepscm``) or while the index was
unavailable are not in it. :func:`reindex_finished_jobs` (``acie index jobs``) embeds
them again from the observations stored with the jobs, with the same metadata and the
same ids (``uuid5(job id, "image-<i>")``), so owners find them again, and a job already
indexed is left as it is.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Engine, select

from acie import errors
from acie.wire.tensors import decode_b64

__all__ = ["finished_jobs", "index_job_images", "reindex_finished_jobs"]

log = logging.getLogger("acie.serve.jobs")


def index_job_images(served: Any, job: Any, result: Mapping[str, Any]) -> int | None:
    """Add a finished job's images to the served index; how many were added.

    ``None`` when the embedder does not take their shape (nothing is indexed); 0 when
    they are there already (an earlier delivery or run added them).
    """
    p = job.payload or {}
    obs = p["observation"]
    images = decode_b64(obs["shape"], obs.get("dtype", "float32"), obs["data"])
    if tuple(images.shape[1:]) != served.image_shape:
        log.info(
            "job %s images %s are not indexed: the embedder %s takes %s",
            job.id,
            tuple(images.shape[1:]),
            served.name,
            served.image_shape,
        )
        return None
    vectors = served.embed(images)
    metas = []
    for i in range(len(vectors)):
        meta: dict[str, Any] = {
            "job_id": str(job.id),
            "request_id": p["request_id"],
            "owner": job.user_sub or "",
            "shared": bool(p.get("shared")),
            "image": i,
            "model_version": result["model_version"],
        }
        for name, values in result["factual_properties"].items():
            meta[name] = float(values[i])
        metas.append(meta)
    # ids derived from job and image: a redelivered (or re-run) job adds nothing new
    ids = [uuid.uuid5(job.id, f"image-{i}") for i in range(len(vectors))]
    try:
        served.index.add(ids, vectors, metas)
    except errors.StoreError as exc:  # already indexed
        log.info("job %s embeddings not added: %s", job.id, exc)
        return 0
    return len(ids)


def finished_jobs(engine: Engine, *, page: int = 100) -> Iterator[Any]:
    """Completed counterfactual jobs, oldest first, read ``page`` rows at a time."""
    from acie.jobs.job import to_job
    from acie.jobs.state import JobState
    from acie.store.schema import Job as JobRow

    after: tuple[Any, Any] | None = None
    while True:
        stmt = select(JobRow).where(JobRow.state == JobState.COMPLETE.value)
        if after is not None:
            stmt = stmt.where(
                (JobRow.created_at > after[0])
                | ((JobRow.created_at == after[0]) & (JobRow.id > after[1]))
            )
        with engine.connect() as conn:
            rows = conn.execute(stmt.order_by(JobRow.created_at, JobRow.id).limit(page)).all()
        for row in rows:
            job = to_job(row)
            if (job.payload or {}).get("kind", "counterfactual") == "counterfactual":
                yield job
        if len(rows) < page:
            return
        after = (rows[-1].created_at, rows[-1].id)


def reindex_finished_jobs(
    engine: Engine, served: Any, *, progress: Callable[[int], Any] | None = None
) -> dict[str, int]:
    """Embed the images of every completed counterfactual job into ``served``'s index.

    Parameters
    ----------
    engine : Engine
        The database of the job queue (its ``jobs`` table).
    served : ServedEmbedding
        The served embedder and its index (:mod:`acie.serve.embedding_index`).
    progress : callable(jobs_done), optional

    Returns
    -------
    dict
        ``jobs`` (completed counterfactual jobs seen), ``added`` (vectors added),
        ``already`` (jobs already indexed), ``skipped`` (jobs whose images the embedder
        does not take, or without a stored result).
    """
    out = {"jobs": 0, "added": 0, "already": 0, "skipped": 0}
    for job in finished_jobs(engine):
        out["jobs"] += 1
        result = job.result or {}
        if "factual_properties" not in result or "model_version" not in result:
            out["skipped"] += 1
            continue
        added = index_job_images(served, job, result)
        if added is None:
            out["skipped"] += 1
        elif added == 0:
            out["already"] += 1
        else:
            out["added"] += added
        if progress is not None:
            progress(out["jobs"])
    return out
