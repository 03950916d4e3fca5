"""``GET /healthz``, ``GET /metrics`` and the root redirect to the explorer (no auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from acie.serve.deps import runtime_of
from acie.serve.metrics import CONTENT_TYPE_LATEST
from acie.serve.schemas import Health

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health}},
    summary="Service health",
)
def healthz(request: Request) -> JSONResponse:
    """SERVING (200) or NOT_SERVING (503, while shutting down), GPUs, model, queue depth."""
    rt = runtime_of(request)
    body = Health(
        status="SERVING" if rt.serving else "NOT_SERVING",
        gpu_count=rt.gpu_count(),
        model_version=rt.model_version,
        queue_depth=rt.queue_depth(),
    )
    return JSONResponse(body.model_dump(), status_code=200 if rt.serving else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    rt = runtime_of(request)
    rt.queue_depth()
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/explorer/")
