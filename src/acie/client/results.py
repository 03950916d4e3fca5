"""What the client SDK returns, and how server status codes become ACIE errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from acie import errors

__all__ = ["CounterfactualAnswer", "error_for"]

_BY_CODE: dict[str, type[errors.AcieError]] = {
    "INVALID_ARGUMENT": errors.InputValidationError,
    "ALREADY_EXISTS": errors.ConflictError,
    "RESOURCE_EXHAUSTED": errors.RateLimitError,
    "FAILED_PRECONDITION": errors.PhysicsViolationError,
    "UNAUTHENTICATED": errors.AuthenticationError,
    "PERMISSION_DENIED": errors.AuthorizationError,
    "NOT_FOUND": errors.NotFoundError,
    "UNAVAILABLE": errors.BackendUnavailableError,
}


def error_for(
    code: str, message: str, *, retry_after_s: float | None = None, trace_id: str | None = None
) -> BaseException:
    """The exception a client raises for a server status ``code`` (gRPC code name).

    DEADLINE_EXCEEDED becomes :class:`TimeoutError`; unknown and INTERNAL codes become
    :class:`acie.errors.AcieError`. The message keeps the code and the trace id.
    """
    text = f"{code}: {message}" + (f" (trace id {trace_id})" if trace_id else "")
    if code == "DEADLINE_EXCEEDED":
        exc: BaseException = TimeoutError(text)
    else:
        exc = _BY_CODE.get(code, errors.AcieError)(text)
    exc.code = code  # type: ignore[attr-defined]
    exc.trace_id = trace_id  # type: ignore[attr-defined]
    if retry_after_s is not None:
        exc.retry_after_s = retry_after_s  # type: ignore[attr-defined]
    return exc


@dataclass(frozen=True, kw_only=True)
class CounterfactualAnswer:
    """A counterfactual answer from either protocol.

    Attributes
    ----------
    request_id : str
    images : ndarray (n, C, H, W) float32
        Counterfactual images, same units as the observation.
    confidence : ndarray (n,)
        In [0, 1], from the entropy of the abduction posterior.
    violation_score : ndarray (n,)
        Physics violation score (dimensionless).
    latency_ms : float
        Server time, milliseconds.
    model_version : str
        SHA-256 of the model weights.
    factual_properties, counterfactual_properties : dict of str to ndarray (n,)
        Per image (REST); gRPC carries batch means only, as arrays of length 1.
    trace_id : str or None
    """

    request_id: str
    images: np.ndarray
    confidence: np.ndarray
    violation_score: np.ndarray
    latency_ms: float
    model_version: str
    factual_properties: dict[str, np.ndarray] = field(default_factory=dict)
    counterfactual_properties: dict[str, np.ndarray] = field(default_factory=dict)
    trace_id: str | None = None
