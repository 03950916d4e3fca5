"""What a counterfactual request is, in and out, whatever the protocol.

:class:`CounterfactualModel` is what the server needs of a model, :func:`validate_call`
checks a request against it and returns a :class:`CounterfactualCall`, and
:func:`result_payload` is the JSON form of a result (the REST response and the stored
job result). :class:`acie.serve.inference.InferenceCore` runs the calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from acie.errors import (
    DataFormatError,
    OutOfRangeError,
    ShapeError,
    UnknownNodeError,
    expected_got,
)
from acie.wire.tensors import encode_b64

__all__ = [
    "MAX_BATCH",
    "CounterfactualCall",
    "CounterfactualModel",
    "result_payload",
    "validate_call",
]

#: most images in one request
MAX_BATCH = 64


class CounterfactualModel(Protocol):
    """What the server needs of a model (``acie.deepscm.CounterfactualEngine`` provides it)."""

    model_version: str
    property_names: Sequence[str]
    image_shape: tuple[int, int, int]

    def counterfactual(
        self,
        images: np.ndarray,
        interventions: Mapping[str, float],
        *,
        physics_tolerance: float,
        physics_steps: int,
        watermark: bool = True,
        on_stage: Callable[[str], None] | None = None,
    ) -> Any:
        """Answer the question for ``images`` (a result with images, properties, scores)."""
        ...


@dataclass(frozen=True, slots=True)
class CounterfactualCall:
    """One validated counterfactual request.

    Parameters
    ----------
    request_id : str
        Caller-chosen id, unique among the caller's requests in flight.
    observation : numpy.ndarray
        Images, shape ``(n, C, H, W)``, float32.
    interventions : dict of str to float
        ``do(name = value)``, in the units of the model's properties.
    physics_tolerance : float or None
        Largest allowed violation score (dimensionless); ``None``: the server default.
    physics_steps : int or None
        Projection steps; ``None``: the server default.
    """

    request_id: str
    observation: np.ndarray
    interventions: dict[str, float] = field(default_factory=dict)
    physics_tolerance: float | None = None
    physics_steps: int | None = None


def validate_call(
    model: CounterfactualModel,
    *,
    request_id: str,
    observation: np.ndarray,
    interventions: Mapping[str, float],
    physics_tolerance: float | None = None,
    physics_steps: int | None = None,
    max_steps: int = 100_000,
) -> CounterfactualCall:
    """Check a request against ``model`` and return it as a :class:`CounterfactualCall`.

    Raises
    ------
    DataFormatError
        An empty or over-long request id, or a non-finite intervention value.
    ShapeError
        The observation is not ``(n, C, H, W)`` with the model's ``(C, H, W)``.
    UnknownNodeError
        An intervention names a variable the model does not have (named in the message).
    OutOfRangeError
        ``physics_steps`` above ``max_steps`` (``MAX_STEPS``).
    """
    if not request_id or len(request_id) > 128:
        raise DataFormatError(expected_got("request_id", "1 to 128 characters", request_id))
    want = tuple(model.image_shape)
    got = tuple(observation.shape)
    if observation.ndim != 4 or got[1:] != want:
        raise ShapeError(
            expected_got("observation shape", f"(n, {', '.join(map(str, want))})", got)
        )
    if not 1 <= got[0] <= MAX_BATCH:
        raise ShapeError(expected_got("observation batch size n", f"1 to {MAX_BATCH}", got[0]))
    names: list[object] = list(model.property_names)
    for name, value in interventions.items():
        if name not in names:
            raise UnknownNodeError(name, names)
        if not math.isfinite(float(value)):
            raise DataFormatError(expected_got(f"intervention value of {name!r}", "finite", value))
    if physics_tolerance is not None and not (
        physics_tolerance > 0 and math.isfinite(physics_tolerance)
    ):
        raise DataFormatError(expected_got("physics_tolerance", "> 0", physics_tolerance))
    if physics_steps is not None and not 0 <= physics_steps <= max_steps:
        raise OutOfRangeError(
            expected_got("physics_steps", f"0 to {max_steps} (MAX_STEPS)", physics_steps)
        )
    return CounterfactualCall(
        request_id=request_id,
        observation=observation,
        interventions={k: float(v) for k, v in interventions.items()},
        physics_tolerance=physics_tolerance,
        physics_steps=physics_steps,
    )


def _per_image(values: Any) -> list[float]:
    return [float(v) for v in np.atleast_1d(np.asarray(values, dtype=float))]


def result_payload(
    request_id: str, result: Any, latency_ms: float, trace_id: str | None
) -> dict[str, Any]:
    """JSON form of a model result (the REST response and the stored job result)."""
    factual = result.factual_properties or {}
    counter = result.counterfactual_properties or {}
    return {
        "request_id": request_id,
        "counterfactual": encode_b64(np.asarray(result.images)),
        "confidence": _per_image(result.confidence),
        "violation_score": _per_image(result.violation_score),
        "latency_ms": float(latency_ms),
        "model_version": str(result.model_version),
        "factual_properties": {k: _per_image(v) for k, v in factual.items()},
        "counterfactual_properties": {k: _per_image(v) for k, v in counter.items()},
        "trace_id": trace_id,
    }
