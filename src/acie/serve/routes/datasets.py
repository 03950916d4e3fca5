"""``POST /v1/datasets`` (upload a cube and its catalogue; 202 and a job) and ``GET /v1/datasets/{id}``.

The upload is JSON: the cube and catalogue files' names and base64 bytes. A cube whose
SHA-256 was ingested before returns that dataset (200) without a new job; otherwise the
raw files are staged atomically under ``ACIE_DATA_DIR/uploads/<sha256>-<random>/`` and an
ingestion job is queued (202; follow it on ``WS /v1/jobs/{job_id}/progress``). Role
rules are those of jobs: submitting needs the ``submit`` action, reading a dataset the
``read`` action and either owning it or, for collaborators, its being shared.

The job embeds with the served galaxy embedder into its index
(:mod:`acie.serve.embedding_index`), the one ``POST /v1/search`` and ``retrieve_k``
query, so the cube's images must have the embedder's shape ((3, 64, 64) for the shipped
one). A dataset ingested earlier by another embedder (the deep-SCM encoder features
servers stored before) is not searched: uploading it again is refused with
:class:`~acie.serve.embedding_index.EmbedderMismatchError` naming both embedders and the
rebuild command, and ``GET /v1/datasets/{id}`` says which embedder made its vectors
(``embedder``) and whether search finds them (``searchable``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from acie._files import write_bytes
from acie.errors import (
    AuthorizationError,
    BackendUnavailableError,
    ConflictError,
    InputValidationError,
    NotFoundError,
    OutOfRangeError,
)
from acie.jobs.ingest import submit_ingest
from acie.serve.auth import Action, Principal, can_read_job
from acie.serve.deps import require, runtime_of
from acie.serve.embedding_index import embedder_of_model, served_for
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.tracing import current_trace_id
from acie.store.dataset_files import CATALOGUE_SUFFIXES, CUBE_SUFFIXES
from acie.store.datasets import DATASET_NAMESPACE, dataset_by_id, dataset_by_sha

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


class UploadFile(BaseModel):
    """One file of an upload: its name (the suffix gives the format) and base64 bytes."""

    filename: str = Field(min_length=1, max_length=255)
    data: str = Field(description="base64 of the file's bytes")


class DatasetUpload(BaseModel):
    """A cube (.fits/.fit/.h5/.hdf5/.npy) and its catalogue (.csv/.fits/.fit)."""

    cube: UploadFile
    catalogue: UploadFile
    name: str | None = Field(default=None, max_length=255)
    shared: bool = False


class DatasetSubmitted(BaseModel):
    """The dataset (once ingested) or the job ingesting it."""

    dataset_id: str
    sha256: str
    job_id: str | None = None
    state: str
    dataset: dict[str, Any] | None = None


def _decode(f: UploadFile, allowed: tuple[str, ...], what: str) -> tuple[str, bytes]:
    suffix = Path(f.filename).suffix.lower()
    if suffix not in allowed or Path(f.filename).name != f.filename:
        raise InputValidationError(
            f"the {what} must be a plain file name ending in {', '.join(allowed)}; "
            f"got {f.filename!r}"
        )
    try:
        return suffix, base64.b64decode(f.data, validate=True)
    except (binascii.Error, ValueError):
        raise InputValidationError(f"the {what}'s data must be base64") from None


def _engine(rt: Any) -> Any:
    index = rt.vector_index
    if rt.job_queue is None or index is None or getattr(index, "engine", None) is None:
        raise BackendUnavailableError("this server has no job queue or embedding index")
    return index.engine


@router.post(
    "/datasets",
    response_model=DatasetSubmitted,
    status_code=202,
    summary="Upload an image cube and its catalogue for ingestion",
)
def upload_dataset(
    body: DatasetUpload,
    request: Request,
    response: Response,
    principal: Principal = Depends(require(Action.submit)),
) -> DatasetSubmitted:
    rt = runtime_of(request)
    engine = _engine(rt)
    cube_suffix, cube = _decode(body.cube, CUBE_SUFFIXES, "cube")
    cat_suffix, cat = _decode(body.catalogue, CATALOGUE_SUFFIXES, "catalogue")
    limit = rt.settings.MAX_DATASET_BYTES
    if len(cube) + len(cat) > limit:
        raise OutOfRangeError(
            f"an upload may be at most MAX_DATASET_BYTES = {limit} bytes; "
            f"got {len(cube) + len(cat)}"
        )
    sha, cat_sha = hashlib.sha256(cube).hexdigest(), hashlib.sha256(cat).hexdigest()
    existing = dataset_by_sha(engine, sha)
    if existing is not None:
        if not can_read_job(principal, owner=existing.owner or "", shared=existing.shared):
            raise ConflictError(
                "this cube is already ingested, in a dataset of another user that is not "
                "shared with you; ask its owner to share it"
            )
        if existing.catalogue_sha256 != cat_sha:
            raise ConflictError(
                f"this cube was ingested as dataset {existing.id} with another catalogue"
            )
        served_for(rt).check_dataset(existing.id, existing.model_id, engine)
        response.status_code = 200
        return DatasetSubmitted(
            dataset_id=existing.id, sha256=sha, state="COMPLETE", dataset=existing.as_dict()
        )
    data_dir = Path(rt.settings.ACIE_DATA_DIR)
    staged = data_dir / "uploads" / f"{sha}-{uuid.uuid4().hex[:12]}"  # one folder per upload
    cube_path = write_bytes(staged / f"cube{cube_suffix}", cube)
    cat_path = write_bytes(staged / f"catalogue{cat_suffix}", cat)
    job = submit_ingest(
        rt.job_queue,
        owner=principal.subject,
        sha256=sha,
        catalogue_sha256=cat_sha,
        cube_path=cube_path,
        catalogue_path=cat_path,
        data_dir=data_dir,
        max_bytes=limit,
        name=body.name or body.cube.filename,
        shared=body.shared,
        trace_id=current_trace_id(),
    )
    if (job.payload or {}).get("cube") != str(cube_path):  # this upload is already queued
        shutil.rmtree(staged, ignore_errors=True)
    rt.queue_depth()
    return DatasetSubmitted(
        dataset_id=str(uuid.uuid5(DATASET_NAMESPACE, sha)),
        sha256=sha,
        job_id=str(job.id),
        state=job.state.value,
    )


@router.get("/datasets/{dataset_id}", summary="An ingested dataset")
def get_dataset(
    dataset_id: str, request: Request, principal: Principal = Depends(require(Action.read))
) -> dict[str, Any]:
    rt = runtime_of(request)
    engine = _engine(rt)
    info = dataset_by_id(engine, dataset_id)
    if info is None:
        raise NotFoundError(f"no dataset {dataset_id!r}")
    if not can_read_job(principal, owner=info.owner or "", shared=info.shared):
        raise AuthorizationError(
            f"dataset {dataset_id} belongs to another user and is not shared with your role "
            f"({principal.role.value})"
        )
    served = served_for(rt)
    made_by = served.name
    if info.model_id is not None and info.model_id != served.model_id:
        made_by = embedder_of_model(engine, info.model_id)[0]
    return {**info.as_dict(), "embedder": made_by, "searchable": made_by == served.name}
