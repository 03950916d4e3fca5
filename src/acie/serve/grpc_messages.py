"""Protobuf messages of the counterfactual service from and to the server's types.

:func:`request_interventions` merges a request's absolute ``interventions`` map and its
any-form ``intervention_specs``; :func:`to_response` turns a model result into a
``CounterfactualResponse`` with per-galaxy outcomes (status, reason, properties,
targets, particle intervals) and the uncertainty tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acie.serve.tracing import current_trace_id
from acie.wire.proto import inference_pb2 as pb
from acie.wire.tensors import encode_tensor

__all__ = ["request_interventions", "to_response", "worst_score"]


def _galaxies(result: Any, n: int) -> list[pb.GalaxyOutcome]:
    """Per-galaxy outcomes of ``result`` (``status``/``reason``/properties/targets/intervals)."""
    status = getattr(result, "status", None)
    reason = getattr(result, "reason", None)
    st = ["ok"] * n if status is None else [str(v) for v in np.atleast_1d(status)]
    why = [""] * n if reason is None else [str(v) for v in np.atleast_1d(reason)]
    score = np.atleast_1d(np.asarray(result.violation_score, dtype=np.float64))
    factual = dict(result.factual_properties or {})
    counter = dict(result.counterfactual_properties or {})
    targets = dict(getattr(result, "targets", None) or {})
    u = getattr(result, "uncertainty", None)
    out = []
    for i in range(n):
        g = pb.GalaxyOutcome(
            status=st[i],
            reason=why[i],
            violation_score=float(score[i]),
            factual_properties={k: float(np.atleast_1d(v)[i]) for k, v in factual.items()},
            counterfactual_properties=(
                {}
                if st[i] == "refused"
                else {k: float(np.atleast_1d(v)[i]) for k, v in counter.items()}
            ),
            targets={k: float(np.atleast_1d(v)[i]) for k, v in targets.items()},
        )
        if u is not None:
            g.particles_accepted = int(np.atleast_1d(u.accepted)[i])
            for name, qs in u.intervals.items():
                g.intervals[name].values.update({q: float(v[i]) for q, v in qs.items()})
        out.append(g)
    return out


def to_response(request_id: str, result: Any, latency_ms: float) -> pb.CounterfactualResponse:
    """The ``CounterfactualResponse`` of a model result (per-galaxy outcomes included)."""
    images = np.asarray(result.images)
    shape, dtype, data = encode_tensor(images)
    names_f = dict(result.factual_properties) if result.factual_properties is not None else {}
    names_c = (
        dict(result.counterfactual_properties)
        if result.counterfactual_properties is not None
        else {}
    )
    galaxies = _galaxies(result, int(np.atleast_1d(result.confidence).shape[0]))
    accepted = np.array([g.status != "refused" for g in galaxies], dtype=bool)
    resp = pb.CounterfactualResponse(
        request_id=request_id,
        counterfactual=pb.Tensor(shape=shape, dtype=dtype, data=data),
        confidence=[float(c) for c in np.atleast_1d(result.confidence)],
        latency_ms=latency_ms,
        violation_score=[float(v) for v in np.atleast_1d(result.violation_score)],
        model_version=result.model_version,
        factual_properties_mean={k: float(np.mean(v)) for k, v in names_f.items()},
        # the means of the galaxies that were not refused (NaN when none was)
        counterfactual_properties_mean={
            k: float(np.mean(np.atleast_1d(v)[accepted])) if accepted.any() else float("nan")
            for k, v in names_c.items()
        },
        trace_id=current_trace_id() or "",
        galaxies=galaxies,
    )
    u = getattr(result, "uncertainty", None)
    if u is not None:
        ushape, udtype, udata = encode_tensor(np.asarray(u.image_std, dtype=np.float32))
        resp.uncertainty.CopyFrom(pb.Tensor(shape=ushape, dtype=udtype, data=udata))
        resp.n_particles = int(u.n_particles)
    resp.expected_draws = int(getattr(result, "expected_draws", 0) or 0)
    return resp


def request_interventions(request: pb.CounterfactualRequest) -> dict[str, Any]:
    """The request's interventions: the absolute map and the any-form map, merged."""
    from acie.errors import InvalidInterventionError, expected_got

    out: dict[str, Any] = dict(request.interventions)
    for name, spec in request.intervention_specs.items():
        if name in out:
            raise InvalidInterventionError(
                expected_got(
                    f"intervention on {name!r}",
                    "in one of interventions and intervention_specs",
                    "both",
                )
            )
        kind = spec.WhichOneof("kind")
        if kind is None:
            raise InvalidInterventionError(
                expected_got(f"intervention_specs[{name!r}]", "one of value, shift, factor", "none")
            )
        out[name] = {kind: getattr(spec, kind)}
    return out


def worst_score(scores: Any) -> float | None:
    """The largest finite violation score (``None`` when none is finite)."""
    v = np.atleast_1d(np.asarray(scores, dtype=np.float64))
    v = v[np.isfinite(v)]
    return float(v.max()) if v.size else None
