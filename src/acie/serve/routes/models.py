"""``GET /v1/models``: the served model, its SHA-256 version, properties and image shape."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from acie.serve.auth import Action, Principal
from acie.serve.deps import require, runtime_of
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.schemas import ModelInfo, ModelList

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.get("/models", response_model=ModelList, summary="Served models")
def models(request: Request, _p: Principal = Depends(require(Action.read))) -> ModelList:
    rt = runtime_of(request)
    m = rt.model
    return ModelList(
        models=[
            ModelInfo(
                name=rt.model_name,
                version=rt.model_version,
                property_names=list(m.property_names),
                image_shape=list(m.image_shape),
            )
        ]
    )
