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
    InvalidInterventionError,
    OutOfRangeError,
    ShapeError,
    UnknownNodeError,
    expected_got,
)
from acie.wire.tensors import encode_b64

__all__ = [
    "INTERVENTION_KINDS",
    "MAX_BATCH",
    "MAX_PARTICLES",
    "MAX_PARTICLE_IMAGES",
    "CounterfactualCall",
    "CounterfactualModel",
    "result_payload",
    "validate_call",
]

#: most images in one request
MAX_BATCH = 64
#: most stochastic-abduction particles per galaxy (acie.deepscm.particles.MAX_PARTICLES)
MAX_PARTICLES = 64
#: most images times particles in one request (each particle is one more decoder pass)
MAX_PARTICLE_IMAGES = 1024
#: the relative and absolute forms of an intervention ({kind: amount})
INTERVENTION_KINDS = ("value", "shift", "factor")

#: one node's intervention: an absolute value or {kind: amount}
InterventionSpec = float | dict[str, float]


class CounterfactualModel(Protocol):
    """What the server needs of a model (``acie.deepscm.CounterfactualEngine`` provides it)."""

    model_version: str
    property_names: Sequence[str]
    image_shape: tuple[int, int, int]

    def counterfactual(
        self,
        images: np.ndarray,
        interventions: Mapping[str, Any],
        *,
        physics_tolerance: float,
        physics_steps: int,
        watermark: bool = True,
        on_stage: Callable[[str], None] | None = None,
        per_galaxy: bool = False,
        n_particles: int = 0,
        expected_draws: int = 0,
    ) -> Any:
        """Answer the question for ``images`` (a result with images, properties, scores).

        With ``per_galaxy`` a galaxy that fails is refused by itself (``status`` and
        ``reason`` per galaxy); ``n_particles`` > 0 adds ``uncertainty``;
        ``expected_draws`` > 0 asks for the expected answer instead of the point one.
        """
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
    n_particles : int
        Stochastic-abduction particles per galaxy for uncertainty maps (0 = none).
    expected_draws : int
        Draws of the expected answer (0 = the point answer).
    all_or_nothing : bool
        Refuse the whole request when any galaxy is refused (default: only when all are).
    """

    request_id: str
    observation: np.ndarray
    interventions: dict[str, InterventionSpec] = field(default_factory=dict)
    physics_tolerance: float | None = None
    physics_steps: int | None = None
    n_particles: int = 0
    expected_draws: int = 0
    all_or_nothing: bool = False


def validate_call(
    model: CounterfactualModel,
    *,
    request_id: str,
    observation: np.ndarray,
    interventions: Mapping[str, object],
    physics_tolerance: float | None = None,
    physics_steps: int | None = None,
    max_steps: int = 100_000,
    n_particles: int | None = None,
    all_or_nothing: bool = False,
    expected_draws: int | None = None,
) -> CounterfactualCall:
    """Check a request against ``model`` and return it as a :class:`CounterfactualCall`.

    Raises
    ------
    DataFormatError
        An empty or over-long request id, or a non-finite intervention value or amount.
    InvalidInterventionError
        An intervention that is neither a number nor one ``{kind: amount}`` with a kind
        of :data:`INTERVENTION_KINDS`, or a factor <= 0.
    ShapeError
        The observation is not ``(n, C, H, W)`` with the model's ``(C, H, W)``.
    UnknownNodeError
        An intervention names a variable the model does not have (named in the message).
    OutOfRangeError
        ``physics_steps`` above ``max_steps`` (``MAX_STEPS``); ``n_particles`` or
        ``expected_draws`` outside 0..:data:`MAX_PARTICLES`, or images x (particles +
        draws) above :data:`MAX_PARTICLE_IMAGES`.
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
    checked: dict[str, InterventionSpec] = {}
    for name, value in interventions.items():
        if name not in names:
            raise UnknownNodeError(name, names)
        checked[name] = _intervention(name, value)
    particles = _draw_count("n_particles", n_particles)
    draws = _draw_count("expected_draws", expected_draws)
    if got[0] * (particles + draws) > MAX_PARTICLE_IMAGES:
        raise OutOfRangeError(
            expected_got(
                "images x (n_particles + expected_draws)",
                f"at most {MAX_PARTICLE_IMAGES}",
                f"{got[0]} x {particles + draws} = {got[0] * (particles + draws)}",
            )
        )
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
        interventions=checked,
        physics_tolerance=physics_tolerance,
        physics_steps=physics_steps,
        n_particles=particles,
        expected_draws=draws,
        all_or_nothing=bool(all_or_nothing),
    )


def _draw_count(name: str, value: object) -> int:
    """``value`` (None = 0) as an int in 0..:data:`MAX_PARTICLES`."""
    n = 0 if value is None else value
    if isinstance(n, bool) or not isinstance(n, int):
        raise DataFormatError(expected_got(name, "an integer", repr(value)))
    if not 0 <= n <= MAX_PARTICLES:
        raise OutOfRangeError(expected_got(name, f"0 to {MAX_PARTICLES}", n))
    return n


def _intervention(name: str, value: object) -> InterventionSpec:
    """One node's intervention as a float or ``{kind: float}``, form and amount checked."""
    if isinstance(value, Mapping):
        keys = list(value)
        if len(keys) != 1 or keys[0] not in INTERVENTION_KINDS:
            raise InvalidInterventionError(
                expected_got(
                    f"intervention on {name!r}",
                    "a number or one of {value: v}, {shift: d}, {factor: f > 0}",
                    f"an object with keys {keys}",
                )
            )
        kind = str(keys[0])
        amount = _finite(f"{kind} of the intervention on {name!r}", value[kind])
        if kind == "factor" and not amount > 0:
            raise InvalidInterventionError(
                expected_got(f"factor of the intervention on {name!r}", "> 0", amount)
            )
        return {kind: amount}
    return _finite(f"intervention value of {name!r}", value)


def _finite(what: str, value: object) -> float:
    if isinstance(value, bool | str | bytes) or value is None:
        raise DataFormatError(expected_got(what, "a finite number", repr(value)))
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFormatError(expected_got(what, "a finite number", repr(value))) from None
    if not math.isfinite(v):
        raise DataFormatError(expected_got(what, "finite", value))
    return v


def _per_image(values: Any) -> list[float | None]:
    """Per-image numbers, ``None`` where not finite (JSON has no NaN)."""
    return [
        float(v) if math.isfinite(v) else None
        for v in np.atleast_1d(np.asarray(values, dtype=float))
    ]


def _outcomes(result: Any, n: int) -> tuple[list[str], list[str | None]]:
    status = getattr(result, "status", None)
    reason = getattr(result, "reason", None)
    st = ["ok"] * n if status is None else [str(v) for v in np.atleast_1d(status)]
    why: list[str | None] = (
        [None] * n if reason is None else [str(v) or None for v in np.atleast_1d(reason)]
    )
    return st, why


def _interventions_payload(result: Any) -> dict[str, Any]:
    ivs = getattr(result, "interventions", None) or {}
    targets = getattr(result, "targets", None) or {}
    factual = result.factual_properties or {}
    out = {}
    for name, iv in ivs.items():
        out[name] = {
            "kind": iv.kind,
            "amount": _per_image(iv.amount),
            "abducted": _per_image(factual[name]) if name in factual else [],
            "target": _per_image(targets.get(name, [])),
        }
    return out


def _uncertainty_payload(result: Any) -> dict[str, Any] | None:
    u = getattr(result, "uncertainty", None)
    if u is None:
        return None
    return {
        "n_particles": int(u.n_particles),
        "image_std": encode_b64(np.asarray(u.image_std, dtype=np.float32)),
        "intervals": {
            name: {q: _per_image(v) for q, v in qs.items()} for name, qs in u.intervals.items()
        },
        "accepted": [int(a) for a in np.atleast_1d(u.accepted)],
    }


def result_payload(
    request_id: str, result: Any, latency_ms: float, trace_id: str | None
) -> dict[str, Any]:
    """JSON form of a model result (the REST response and the stored job result).

    A refused galaxy (``status`` ``"refused"``, with its ``reason``) has NaN pixels and
    ``null`` counterfactual properties and score.
    """
    factual = result.factual_properties or {}
    counter = result.counterfactual_properties or {}
    n = int(np.atleast_1d(np.asarray(result.confidence)).shape[0])
    status, reason = _outcomes(result, n)
    refused = np.array([s == "refused" for s in status], dtype=bool)

    def cf(values: Any) -> list[float | None]:
        vals = _per_image(values)
        return [None if refused[i] else v for i, v in enumerate(vals)]

    return {
        "request_id": request_id,
        "counterfactual": encode_b64(np.asarray(result.images)),
        "confidence": _per_image(result.confidence),
        "violation_score": _per_image(result.violation_score),
        "latency_ms": float(latency_ms),
        "model_version": str(result.model_version),
        "factual_properties": {k: _per_image(v) for k, v in factual.items()},
        "counterfactual_properties": {k: cf(v) for k, v in counter.items()},
        "status": status,
        "reason": reason,
        "interventions": _interventions_payload(result),
        "uncertainty": _uncertainty_payload(result),
        "expected_draws": int(getattr(result, "expected_draws", 0) or 0),
        "trace_id": trace_id,
    }
