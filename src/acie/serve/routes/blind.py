"""Blind inference routes: one linear layer, or a whole head in rounds.

``POST /v1/blind/infer`` (one linear layer), ``GET /v1/blind/layer``, and a head in
rounds: ``POST /v1/blind/sessions`` (round 0) then
``POST /v1/blind/sessions/{session_id}/rounds`` (the next rounds).

All answer UNAVAILABLE when the server has no blind layer or the ``blind_inference``
feature flag is off (:mod:`acie.serve.features`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from acie.errors import BackendUnavailableError
from acie.serve.auth import Action, Principal
from acie.serve.deps import require, runtime_of
from acie.serve.features import require_feature
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.schemas import BlindInferenceRequest, BlindInferenceResponse, RequestId

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


class BlindSessionRequest(BaseModel):
    """Open a blind session of a head: the client's public key and round 0's encrypted input."""

    model_config = ConfigDict(extra="forbid")
    request_id: RequestId
    session: dict[str, Any] = Field(
        description="acie.blind.session/v1: head, public_key, input (EncryptedVector JSON)"
    )


class BlindRoundRequest(BaseModel):
    """The next round's encrypted input (the client's activations, re-encrypted)."""

    model_config = ConfigDict(extra="forbid")
    request_id: RequestId
    round: dict[str, Any] = Field(description="acie.blind.round/v1: round, input")


class BlindRoundResponse(BaseModel):
    """One round's encrypted output; ``done`` after the head's last layer."""

    request_id: str
    session_id: str
    round: int
    rounds: int
    done: bool
    encrypted_output: dict[str, Any] = Field(
        description="acie.blind.round-output/v1 (EncryptedVector under the client's key)"
    )
    output_names: list[str]
    model_version: str


def _round_response(request_id: str, out: dict[str, Any]) -> BlindRoundResponse:
    return BlindRoundResponse(
        request_id=request_id,
        session_id=out["session_id"],
        round=out["round"],
        rounds=out["rounds"],
        done=out["done"],
        encrypted_output=out,
        output_names=list(out["output_names"]),
        model_version=out["model_version"],
    )


@router.post(
    "/sessions",
    response_model=BlindRoundResponse,
    summary="Blind head in rounds: open a session and evaluate round 0 on ciphertexts",
)
def blind_session(
    body: BlindSessionRequest,
    request: Request,
    principal: Principal = Depends(require(Action.submit)),
) -> BlindRoundResponse:
    layer = _layer(request)
    out = layer.open_session(
        body.session, owner=principal.subject, settings=runtime_of(request).settings
    )
    return _round_response(body.request_id, out)


@router.post(
    "/sessions/{session_id}/rounds",
    response_model=BlindRoundResponse,
    summary="Blind head in rounds: evaluate the next round on the client's re-encrypted activations",
)
def blind_round(
    body: BlindRoundRequest,
    request: Request,
    session_id: str = Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$"),
    principal: Principal = Depends(require(Action.submit)),
) -> BlindRoundResponse:
    layer = _layer(request)
    out = layer.session_round(
        session_id, body.round, owner=principal.subject, settings=runtime_of(request).settings
    )
    return _round_response(body.request_id, out)
