"""Blind inference: ``POST /v1/blind/infer`` (ciphertexts in and out), ``GET /v1/blind/layer``.

Both answer UNAVAILABLE when the server has no blind layer or the ``blind_inference``
feature flag is off (:mod:`acie.serve.features`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from acie.errors import BackendUnavailableError
from acie.serve.auth import Action, Principal
from acie.serve.deps import require, runtime_of
from acie.serve.features import require_feature
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.schemas import BlindInferenceRequest, BlindInferenceResponse

__all__ = ["router"]

router = APIRouter(prefix="/v1/blind", responses=ERROR_RESPONSES)


def _layer(request: Request) -> Any:
    rt = runtime_of(request)
    require_feature(rt.flags, "blind_inference")
    if rt.blind_layer is None:
        raise BackendUnavailableError("this server has no blind-inference layer")
    return rt.blind_layer


@router.post(
    "/infer",
    response_model=BlindInferenceResponse,
    summary="Blind inference: encrypted vector in, encrypted vector out",
)
def blind_infer(
    body: BlindInferenceRequest,
    request: Request,
    _p: Principal = Depends(require(Action.submit)),
) -> BlindInferenceResponse:
    layer = _layer(request)
    out = layer.apply_json(body.encrypted_input, settings=runtime_of(request).settings)
    return BlindInferenceResponse(
        request_id=body.request_id,
        encrypted_output=out,
        output_names=list(layer.output_names),
        model_version=layer.version,
    )


@router.get("/layer", summary="Shape and meaning of the blind-inference layer")
def blind_layer(request: Request, _p: Principal = Depends(require(Action.read))) -> dict:
    return _layer(request).describe()
