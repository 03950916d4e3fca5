"""``POST /v1/search``: k nearest neighbours among the finished jobs the caller may see."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from acie.errors import BackendUnavailableError
from acie.serve import job_service
from acie.serve.auth import Action, Principal
from acie.serve.deps import require, runtime_of
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.schemas import SearchHit, SearchRequest, SearchResponse

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.post("/search", response_model=SearchResponse, summary="k nearest neighbours")
def search(
    body: SearchRequest, request: Request, principal: Principal = Depends(require(Action.read))
) -> SearchResponse:
    rt = runtime_of(request)
    if rt.vector_index is None:
        raise BackendUnavailableError("this server has no embedding index")
    hits = job_service.search(rt.vector_index, principal, body.vector, k=body.k, where=body.filter)
    return SearchResponse(hits=[SearchHit(**h) for h in hits])
