"""The explorer's selection counterfactual as a platform job: submit, run, summarise.

``POST /v1/explorer/selection/counterfactual`` (:mod:`acie.serve.routes.explorer_selection`)
checks the selection, draws the seeded simple random sample the model will run on and
queues ONE job of kind :data:`SELECTION_KIND` whose payload holds only the sampled ids
(never the whole selection). The server's job worker
(:class:`acie.serve.job_service.JobRunner`) hands such a job to :func:`run_selection`:
re-render each sampled galaxy (:mod:`acie.analysis.catalogue_galaxies`), run the served
model in chunks of :data:`CHUNK` with the per-galaxy physics check (a refused galaxy is
dropped and counted, it does not fail the others), and summarise
(:mod:`acie.analysis.selection_counterfactual`). The job moves QUEUED → PROCESSING →
PHYSICS_CHECK → COMPLETE like any job; the physics re-check of the worker applies to
the stored scores of the galaxies used.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from acie.analysis.catalogue_galaxies import catalogue_population, model_camera, render_galaxies
from acie.analysis.selection_counterfactual import (
    block_mean,
    intervention_targets,
    mean_shifts,
    property_histograms,
)
from acie.errors import InputValidationError, UnknownNodeError, expected_got
from acie.jobs.trace_propagation import inject_trace_context
from acie.serve.telemetry_otel import producer_span
from acie.wire.tensors import encode_b64

__all__ = [
    "CHUNK",
    "MAX_B64_IDS",
    "MAX_LISTED_IDS",
    "MAX_SAMPLE",
    "SELECTION_KIND",
    "check_intervention",
    "run_selection",
    "submit_selection",
]

SELECTION_KIND = "explorer_selection"
#: most ids as a JSON list / as base64 uint32 (the largest catalogue)
MAX_LISTED_IDS = 10_000
MAX_B64_IDS = 1_000_000
#: most galaxies the model runs on per job
MAX_SAMPLE = 1024
#: galaxies per model call
CHUNK = 32
_THUMB = 2  # gallery thumbnails: 2x2 block means


def check_intervention(model: Any, spec: Mapping[str, Any]) -> tuple[str, str, float]:
    """``(property, form, amount)`` of ``{"property", "value"|"shift"|"factor"}``.

    Raises
    ------
    UnknownNodeError
        The model cannot intervene on that property.
    InputValidationError
        Not exactly one form, or a bad amount (non-finite, factor <= 0).
    """
    name = str(spec.get("property"))
    names = list(model.property_names)
    if name not in names:
        raise UnknownNodeError(name, names)
    forms = [f for f in ("value", "shift", "factor") if spec.get(f) is not None]
    if len(forms) != 1:
        raise InputValidationError(
            expected_got("intervention", "exactly one of value, shift, factor", forms or "none")
        )
    amount = float(spec[forms[0]])
    intervention_targets(name, forms[0], amount, np.zeros(1))  # checks the amount
    return name, forms[0], amount


def submit_selection(
    queue: Any,
    *,
    owner: str,
    request_id: str,
    catalogue: str,
    n_selected: int,
    sampled: np.ndarray,
    intervention: Mapping[str, Any],
    options: Mapping[str, Any],
    trace_id: str | None,
) -> Any:
    """Queue one selection-counterfactual job (``sampled``: the checked, sampled ids)."""
    from acie.serve.job_service import queue_request_id

    payload = {
        "kind": SELECTION_KIND,
        "request_id": request_id,
        "catalogue": catalogue,
        "n_selected": int(n_selected),
        "ids": [int(i) for i in sampled],
        "intervention": dict(intervention),
        "bins": int(options["bins"]),
        "gallery": int(options["gallery"]),
        "seed": int(options["seed"]),
        "physics_tolerance": options.get("physics_tolerance"),
        "shared": bool(options.get("shared", False)),
        "trace_id": trace_id,
    }
    with producer_span("job enqueue", **{"acie.job.kind": SELECTION_KIND}):
        inject_trace_context(payload)
        return queue.submit(queue_request_id(owner, request_id), payload, user_sub=owner)


def run_selection(
    payload: Mapping[str, Any], model: Any, *, tolerance: float, steps: int
) -> dict[str, Any]:
    """Run a selection job's counterfactuals and summarise them (the stored job result)."""
    from acie.galaxy.properties import PHYSICAL_DOMAIN, RANGES, UNITS

    t0 = time.perf_counter()
    catalogue = str(payload["catalogue"])
    name, form, amount = check_intervention(model, payload["intervention"])
    ids = np.asarray(payload["ids"], dtype=np.int64)
    catalogue_population(catalogue)  # raises for an unknown catalogue before any work
    camera = model_camera(getattr(model, "metadata", None) or {}, model.image_shape)
    n_gallery = int(payload.get("gallery", 0))
    before: dict[str, list[np.ndarray]] = {}
    after: dict[str, list[np.ndarray]] = {}
    kept_ids: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    gallery: list[dict[str, Any]] = []
    n_refused = n_out = 0
    for start in range(0, ids.size, CHUNK):
        rows = ids[start : start + CHUNK]
        images = render_galaxies(catalogue, rows, render=camera)
        # relative forms start from the value the model reads off each galaxy's image
        abducted = np.asarray(model.infer_properties(images)[0][name], dtype=np.float64)
        values = intervention_targets(name, form, amount, abducted)
        ok = RANGES[name].contains(values) & PHYSICAL_DOMAIN[name].contains(values)
        n_out += int((~ok).sum())
        if not ok.any():
            continue
        rows, values, images = rows[ok], values[ok], images[ok]
        res = model.counterfactual(
            images,
            {name: values},
            physics_tolerance=tolerance,
            physics_steps=steps,
            per_galaxy=True,
        )
        good = np.asarray(res.status) != "refused"
        n_refused += int((~good).sum())
        kept_ids.append(rows[good])
        scores.append(np.asarray(res.violation_score, dtype=np.float64)[good])
        for k, v in res.factual_properties.items():
            before.setdefault(k, []).append(np.asarray(v, dtype=np.float64)[good])
        for k, v in res.counterfactual_properties.items():
            after.setdefault(k, []).append(np.asarray(v, dtype=np.float64)[good])
        for j in np.flatnonzero(good):
            if len(gallery) >= n_gallery:
                break
            gallery.append(
                {
                    "id": int(rows[j]),
                    "before": encode_b64(block_mean(images[j], _THUMB)),
                    "after": encode_b64(block_mean(res.images[j], _THUMB)),
                    "properties_before": {
                        k: float(v[j]) for k, v in res.factual_properties.items()
                    },
                    "properties_after": {
                        k: float(v[j]) for k, v in res.counterfactual_properties.items()
                    },
                }
            )
    b = {k: np.concatenate(v) for k, v in before.items()}
    a = {k: np.concatenate(v) for k, v in after.items() if k in b}
    used = np.concatenate(kept_ids) if kept_ids else np.empty(0, np.int64)
    hists = property_histograms(b, a, int(payload.get("bins", 30))) if used.size else {}
    for k in hists:
        hists[k]["unit"] = UNITS.get(k, "")  # type: ignore[assignment]
    n_selected = int(payload.get("n_selected", ids.size))
    return {
        "kind": SELECTION_KIND,
        "request_id": payload.get("request_id"),
        "catalogue": catalogue,
        "model_version": str(getattr(model, "model_version", "")),
        "intervention": {"property": name, form: amount},
        "n_selected": n_selected,
        "n_sampled": int(ids.size),
        "n_out_of_range": n_out,
        "n_refused": n_refused,
        "n_used": int(used.size),
        "seed": int(payload.get("seed", 0)),
        "ids_used": used.tolist(),
        "histograms": hists,
        "mean_shift": mean_shifts(b, a, population=n_selected) if used.size else {},
        "gallery": gallery,
        "violation_score": np.concatenate(scores).tolist() if scores else [],
        "physics_tolerance": float(tolerance),
        "latency_ms": (time.perf_counter() - t0) * 1e3,
    }
