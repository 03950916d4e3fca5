"""``POST /v1/counterfactual``: one counterfactual question, answered when done."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Request

from acie.serve.auth import Action, Principal
from acie.serve.calls import result_payload
from acie.serve.deps import require, runtime_of
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.retrieval import (
    audit_neighbours,
    check_retrieval,
    refine,
    retrieve_neighbours,
)
from acie.serve.schemas import CounterfactualRequest, CounterfactualResponse
from acie.serve.tracing import current_trace_id
from acie.wire.tensors import decode_b64

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.post(
    "/counterfactual",
    response_model=CounterfactualResponse,
    summary="Counterfactual inference, answered when done",
)
async def counterfactual(
    body: CounterfactualRequest,
    request: Request,
    principal: Principal = Depends(require(Action.submit)),
) -> CounterfactualResponse:
    rt = runtime_of(request)
    t0 = time.perf_counter()
    obs = decode_b64(body.observation.shape, body.observation.dtype, body.observation.data)
    k = check_retrieval(rt, body.retrieve_k, int(obs.shape[0]), body.retrieve_filter)
    call = rt.core.validate(
        request_id=body.request_id,
        observation=obs,
        interventions=body.interventions,
        physics_tolerance=body.physics_tolerance,
        physics_steps=body.physics_steps,
        n_particles=body.n_particles,
        expected_draws=body.expected_draws,
        all_or_nothing=body.all_or_nothing,
    )
    fut = rt.core.submit(principal.subject, call)
    try:
        result = await asyncio.wait_for(asyncio.wrap_future(fut), timeout=rt.core.timeout_s)
    except TimeoutError:
        raise TimeoutError(
            f"request {body.request_id!r} did not finish within "
            f"{rt.core.timeout_s:.3g} s (REQUEST_TIMEOUT_S)"
        ) from None
    hits: list[list[dict]] = []
    info = None
    if k:
        hits = await asyncio.to_thread(
            retrieve_neighbours, rt, principal, call.observation, k, body.retrieve_filter
        )
        audit_neighbours(rt, principal, body.request_id, hits)
        result, info = await asyncio.to_thread(refine, rt, result, hits)
    payload = result_payload(
        body.request_id, result, (time.perf_counter() - t0) * 1e3, current_trace_id()
    )
    if k:
        payload["neighbours"] = hits
        payload["retrieval"] = info
    return CounterfactualResponse(**payload)
