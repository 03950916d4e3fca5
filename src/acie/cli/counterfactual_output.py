"""What `acie model counterfactual` makes of its options and its result.

:func:`collect_interventions` merges ``--set``, ``--shift`` and ``--factor`` into the
engine's intervention forms; :func:`refuse_failed` fails the command when every galaxy
was refused (any, with ``--all-or-nothing``); :func:`npz_arrays` and :func:`summary`
are the ``--out`` file's arrays and the printed JSON summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from acie.errors import InputValidationError, OutOfRangeError, PhysicsViolationError, expected_got

__all__ = ["collect_interventions", "npz_arrays", "refuse_failed", "summary"]


def collect_interventions(
    absolute: Mapping[str, float], shifts: Mapping[str, float], factors: Mapping[str, float]
) -> dict[str, Any]:
    """``{name: value | {"shift": d} | {"factor": f}}``; each name at most once, one at least.

    Raises
    ------
    InputValidationError
        A property given twice, or no intervention at all.
    """
    out: dict[str, Any] = {}
    parts: list[Mapping[str, Any]] = [
        absolute,
        {k: {"shift": v} for k, v in shifts.items()},
        {k: {"factor": v} for k, v in factors.items()},
    ]
    for part in parts:
        for name, spec in part.items():
            if name in out:
                raise InputValidationError(
                    expected_got(f"intervention on {name!r}", "given once", "given twice")
                )
            out[name] = spec
    if not out:
        raise InputValidationError(
            expected_got("interventions", "at least one --set, --shift or --factor", "none")
        )
    return out


def _reasons(r: Any) -> np.ndarray:
    n = np.asarray(r.status).size
    return np.asarray(r.reason if r.reason is not None else [""] * n, dtype=str)


def refuse_failed(r: Any, *, all_or_nothing: bool) -> None:
    """Fail when every galaxy was refused (any, with ``all_or_nothing``), with the reasons.

    Raises
    ------
    OutOfRangeError
        Every refused galaxy's relative target is outside the calibrated range.
    PhysicsViolationError
        Otherwise.
    """
    refused = np.asarray(r.status) == "refused"
    if not (refused.all() or (all_or_nothing and refused.any())):
        return
    why = _reasons(r)
    rows = np.flatnonzero(refused)
    detail = "; ".join(f"galaxy {i}: {why[i]}" for i in rows[:5])
    message = f"{rows.size} of {refused.size} galaxies refused: {detail}"
    if all(str(why[i]).startswith("out_of_range") for i in rows):
        raise OutOfRangeError(message)
    raise PhysicsViolationError(message)


def npz_arrays(r: Any, factual_images: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of ``--out``: images, properties, scores, status, targets, uncertainty."""
    out = {
        "images": r.images,
        "factual_images": np.asarray(factual_images, np.float32),
        **{f"factual_{k}": v for k, v in r.factual_properties.items()},
        **{f"counterfactual_{k}": v for k, v in r.counterfactual_properties.items()},
        "violation_score": r.violation_score,
        "confidence": r.confidence,
        "status": np.asarray(r.status).astype(str),
        **{f"target_{k}": v for k, v in r.targets.items()},
    }
    if r.uncertainty is not None:
        out["uncertainty_image_std"] = r.uncertainty.image_std
        for k, qs in r.uncertainty.intervals.items():
            out.update({f"interval_{k}_{q}": v for q, v in qs.items()})
    return out


def _rounded(values: Any) -> list[float | None]:
    return [
        round(float(v), 4) if np.isfinite(v) else None for v in np.atleast_1d(values).astype(float)
    ]


def summary(r: Any) -> dict[str, Any]:
    """The JSON summary printed by the command (non-finite numbers as ``null``)."""
    from acie.galaxy.properties import UNITS

    out: dict[str, Any] = {
        "model_version": r.model_version,
        "n": int(np.shape(r.images)[0]),
        "latency_ms": round(r.latency_ms, 2),
        "watermarked": r.watermarked,
        "units": {k: UNITS[k] or "dimensionless" for k in r.factual_properties},
        "factual_properties": {k: _rounded(v) for k, v in r.factual_properties.items()},
        "counterfactual_properties": {
            k: _rounded(v) for k, v in r.counterfactual_properties.items()
        },
        "violation_score_dex": _rounded(r.violation_score),
        "confidence": _rounded(r.confidence),
        "projected": np.asarray(r.projected).tolist(),
        "status": np.asarray(r.status).tolist(),
        "reason": [str(v) or None for v in _reasons(r)],
        "targets": {k: _rounded(v) for k, v in r.targets.items()},
        "expected_draws": int(getattr(r, "expected_draws", 0)),
    }
    if r.uncertainty is not None:
        u = r.uncertainty
        out["n_particles"] = u.n_particles
        out["intervals"] = {
            k: {q: _rounded(v) for q, v in qs.items()} for k, qs in u.intervals.items()
        }
        std = np.asarray(u.image_std, dtype=np.float64).reshape(len(u.accepted), -1)
        out["image_std_max"] = _rounded(
            [np.nanmax(row) if np.isfinite(row).any() else np.nan for row in std]
        )
    return out
