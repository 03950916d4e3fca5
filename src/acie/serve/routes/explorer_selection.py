"""Selection counterfactuals: ``POST /v1/explorer/selection/counterfactual``, ``GET …/{job_id}``.

One intervention on a brushed population, run as ONE job of the platform queue
(:mod:`acie.serve.explorer_selection`): submitting needs the ``submit`` action, reading
the ``read`` action and the job's visibility (:func:`acie.serve.auth.can_read_job`:
researchers their own jobs, collaborators shared ones, admins all). The selection comes
as a JSON id list (at most :data:`~acie.serve.explorer_selection.MAX_LISTED_IDS`) or as
base64 little-endian uint32 (at most :data:`~acie.serve.explorer_selection.MAX_B64_IDS`,
the map's own ``id`` column); the body limit ``MAX_REQUEST_BYTES`` holds before either.
Progress is the job's ``WS /v1/jobs/{job_id}/progress``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from acie.analysis.catalogue_galaxies import catalogue_population, check_ids
from acie.analysis.selection_counterfactual import sample_ids
from acie.errors import DataFormatError, InputValidationError, NotFoundError, expected_got
from acie.serve.auth import Action, Principal
from acie.serve.deps import runtime_of
from acie.serve.explorer_selection import (
    MAX_B64_IDS,
    MAX_LISTED_IDS,
    MAX_SAMPLE,
    SELECTION_KIND,
    check_intervention,
    submit_selection,
)
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.routes.jobs import _queue, _visible_job, job_view
from acie.serve.schemas import JobView
from acie.serve.sessions import require_session
from acie.serve.tracing import current_trace_id

__all__ = ["router"]

router = APIRouter(prefix="/v1/explorer", responses=ERROR_RESPONSES, tags=["explorer"])

Finite = Annotated[float, Field(allow_inf_nan=False)]


class SelectionIntervention(BaseModel):
    """``do(property = value)``, ``+ shift`` or ``× factor`` for every selected galaxy."""

    model_config = ConfigDict(extra="forbid")

    property: str = Field(min_length=1, max_length=64)
    value: Finite | None = None
    shift: Finite | None = None
    factor: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None


class SelectionRequest(BaseModel):
    """A selection of one catalogue and the intervention to apply to it."""

    model_config = ConfigDict(extra="forbid")

    catalogue: str = Field(min_length=1, max_length=64)
    ids: list[Annotated[int, Field(ge=0, le=2**32 - 1)]] | None = Field(
        default=None, max_length=MAX_LISTED_IDS, description="galaxy ids (JSON list)"
    )
    ids_b64: str | None = Field(
        default=None,
        max_length=4 * ((4 * MAX_B64_IDS + 2) // 3),
        description="base64 of little-endian uint32 galaxy ids",
    )
    intervention: SelectionIntervention
    sample_size: int = Field(default=256, ge=1, le=MAX_SAMPLE)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    bins: int = Field(default=30, ge=5, le=100)
    gallery: int = Field(default=6, ge=0, le=12)
    shared: bool = False
    physics_tolerance: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    request_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="idempotency key (default: a new UUID)",
    )


class SelectionView(BaseModel):
    """A selection job and, once COMPLETE, its result."""

    kind: Literal["explorer_selection"] = "explorer_selection"
    job: JobView
    result: dict[str, Any] | None


def _selected_ids(body: SelectionRequest) -> np.ndarray:
    if (body.ids is None) == (body.ids_b64 is None):
        raise InputValidationError(
            expected_got("the selection", "exactly one of ids and ids_b64", "both or neither")
        )
    if body.ids is not None:
        return np.asarray(body.ids, dtype=np.int64)
    try:
        raw = base64.b64decode(body.ids_b64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise DataFormatError("ids_b64 must be base64 text of little-endian uint32") from None
    if len(raw) % 4:
        raise DataFormatError(
            expected_got("ids_b64", "a whole number of 4-byte uint32 ids", f"{len(raw)} bytes")
        )
    if len(raw) // 4 > MAX_B64_IDS:
        raise InputValidationError(
            expected_got("ids_b64", f"at most {MAX_B64_IDS} ids", len(raw) // 4)
        )
    return np.frombuffer(raw, dtype="<u4").astype(np.int64)


@router.post(
    "/selection/counterfactual",
    response_model=JobView,
    status_code=202,
    summary="apply one intervention to a selection, as one job",
)
def selection_counterfactual(
    body: SelectionRequest,
    request: Request,
    principal: Principal = Depends(require_session(Action.submit)),
) -> JobView:
    rt = runtime_of(request)
    queue = _queue(rt)
    check_intervention(rt.model, body.intervention.model_dump())
    ids = _selected_ids(body)
    if ids.size == 0:
        raise InputValidationError(expected_got("the selection", "at least one id", "none"))
    population = catalogue_population(body.catalogue)
    ids = np.unique(check_ids(ids, len(population), catalogue=body.catalogue))
    job = submit_selection(
        queue,
        owner=principal.subject,
        request_id=body.request_id or f"selection-{uuid.uuid4()}",
        catalogue=body.catalogue,
        n_selected=int(ids.size),
        sampled=sample_ids(ids, body.sample_size, body.seed),
        intervention=body.intervention.model_dump(exclude_none=True),
        options=body.model_dump(include={"bins", "gallery", "seed", "physics_tolerance", "shared"}),
        trace_id=current_trace_id(),
    )
    rt.queue_depth()
    return job_view(job)


@router.get(
    "/selection/{job_id}",
    response_model=SelectionView,
    summary="a selection job and its result (histograms, mean shifts, gallery)",
)
def selection_result(
    job_id: str, request: Request, principal: Principal = Depends(require_session(Action.read))
) -> SelectionView:
    rt = runtime_of(request)
    job = _visible_job(rt, principal, job_id)
    if (job.payload or {}).get("kind") != SELECTION_KIND:
        raise NotFoundError(f"job {job_id} is not a selection counterfactual")
    done = job.state.value == "COMPLETE" and job.result is not None
    return SelectionView(job=job_view(job), result=dict(job.result) if done else None)
