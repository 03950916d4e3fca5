"""What a counterfactual answer must be before it leaves the server, galaxy by galaxy.

:func:`check_finite` refuses a model result with NaN or infinity outside the galaxies the
model refused by themselves; :func:`refuse_failed` refuses a request whose galaxies were
all refused (any, with ``all_or_nothing``); :func:`checked_future` applies it to a queued
request's future. :class:`acie.serve.inference.InferenceCore` uses all three.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import numpy as np

from acie.errors import OutOfRangeError, PhysicsViolationError

__all__ = ["check_finite", "checked_future", "refuse_failed"]


def check_finite(result: Any) -> None:
    """Refuse a model result holding NaN or infinity (never returned to a caller).

    The images, violation scores, confidences and factual and counterfactual properties
    must all be finite; a model that produced anything else gets the request refused
    with :class:`PhysicsViolationError` (FAILED_PRECONDITION, 422) naming what was not.

    Galaxies the model refused by themselves (``status == "refused"``: NaN image, their
    score may be NaN) are left out of the check; their refusal is reported per galaxy.

    Raises
    ------
    PhysicsViolationError
        Some part of ``result`` is not finite.
    """
    status = getattr(result, "status", None)
    n = int(np.atleast_1d(np.asarray(result.confidence)).shape[0])
    keep = np.ones(n, dtype=bool) if status is None else np.atleast_1d(status) != "refused"
    parts: list[tuple[str, Any]] = [
        ("images", result.images),
        ("violation_score", result.violation_score),
        ("confidence", result.confidence),
    ]
    for kind in ("factual_properties", "counterfactual_properties"):
        parts += [(f"{kind}[{k!r}]", v) for k, v in (getattr(result, kind) or {}).items()]

    def all_finite(v: Any) -> bool:
        arr = np.asarray(v, dtype=np.float64)
        if arr.ndim >= 1 and arr.shape[0] == n:
            arr = arr[keep]
        return bool(np.all(np.isfinite(arr)))

    bad = [name for name, v in parts if not all_finite(v)]
    if bad:
        score = np.asarray(result.violation_score, dtype=np.float64)
        finite = score[np.isfinite(score)]
        raise PhysicsViolationError(
            f"the counterfactual must be finite; got NaN or infinity in {', '.join(bad[:5])}",
            score=float(finite.max()) if finite.size and finite.size == score.size else None,
        )


def refuse_failed(result: Any, *, all_or_nothing: bool = False) -> None:
    """Refuse a request whose galaxies were all refused (any, with ``all_or_nothing``).

    Raises
    ------
    OutOfRangeError
        Every refused galaxy's relative target fell outside the calibrated range.
    PhysicsViolationError
        Otherwise; the message names each refused galaxy and its reason.
    """
    status = getattr(result, "status", None)
    if status is None:
        return
    refused = np.atleast_1d(np.asarray(status)) == "refused"
    if not refused.any() or not (refused.all() or all_or_nothing):
        return
    n = refused.size
    reason = getattr(result, "reason", None)
    reasons = [str(r) for r in np.atleast_1d(reason)[refused]] if reason is not None else []
    rows = np.flatnonzero(refused)
    detail = "; ".join(f"galaxy {i}: {r}" for i, r in zip(rows[:5], reasons[:5], strict=False))
    what = (
        f"{rows.size} of {n} galaxies refused"
        + (" and all_or_nothing is set" if all_or_nothing and not refused.all() else "")
        + (f": {detail}" if detail else "")
    )
    if reasons and all(r.startswith("out_of_range") for r in reasons):
        raise OutOfRangeError(what)
    score = np.atleast_1d(np.asarray(result.violation_score, dtype=np.float64))[refused]
    finite = score[np.isfinite(score)]
    raise PhysicsViolationError(
        what if detail else f"{what}: violation score above the physics tolerance",
        score=float(finite.max()) if finite.size == score.size and finite.size else None,
    )


def checked_future(inner: Future, all_or_nothing: bool) -> Future:
    """A future of ``inner``'s result that applies :func:`refuse_failed` to it.

    Cancelling it cancels ``inner`` (a request still queued is then dropped).
    """
    outer: Future = Future()

    def done(f: Future) -> None:
        if f.cancelled():
            outer.cancel()
            return
        exc = f.exception()
        if exc is None:
            try:
                refuse_failed(f.result(), all_or_nothing=all_or_nothing)
            except Exception as refusal:
                exc = refusal
        if outer.set_running_or_notify_cancel():
            if exc is None:
                outer.set_result(f.result())
            else:
                outer.set_exception(exc)

    outer.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
    inner.add_done_callback(done)
    return outer
