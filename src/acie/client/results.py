"""What the client SDK returns, and how server status codes become ACIE errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from acie import errors

__all__ = [
    "CounterfactualAnswer",
    "SearchHits",
    "answer_from_json",
    "answer_from_proto",
    "error_for",
    "search_query",
]

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


class SearchHits(list[dict[str, Any]]):
    """The nearest neighbours of a search, nearest first, and what made the vectors compared.

    A list of ``{"id", "distance", "metadata"}`` (as before the attributes came), with
    ``embedder`` (``galaxy-embedder:<sha256>``), ``dim`` (length of the index's vectors)
    and ``metric`` (``l2`` or ``cosine``) of the server's index.
    """

    def __init__(self, hits: Any = (), *, embedder: str, dim: int, metric: str) -> None:
        super().__init__(hits)
        self.embedder, self.dim, self.metric = str(embedder), int(dim), str(metric)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> SearchHits:
        """The hits of a ``POST /v1/search`` answer."""
        return cls(body["hits"], embedder=body["embedder"], dim=body["dim"], metric=body["metric"])

    def __repr__(self) -> str:
        return (
            f"SearchHits({list.__repr__(self)}, embedder={self.embedder!r}, dim={self.dim}, "
            f"metric={self.metric!r})"
        )


def search_query(vector: Any, image: Any) -> tuple[list[float] | None, np.ndarray | None]:
    """``(vector as floats, image as float32)`` of a search; exactly one may be given.

    ``image``: one galaxy, (C, H, W) or (1, C, H, W), nanomaggies per pixel.
    """
    if (vector is None) == (image is None):
        raise errors.InputValidationError(
            errors.expected_got("a search query", "a vector or an image", "both or neither")
        )
    if image is not None:
        img = np.ascontiguousarray(image, dtype="<f4")
        if img.ndim not in (3, 4) or (img.ndim == 4 and img.shape[0] != 1):
            raise errors.ShapeError(
                errors.expected_got("the search image", "(C, H, W) or (1, C, H, W)", img.shape)
            )
        return None, img
    return [float(v) for v in np.ravel(vector)], None


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
        Per image (a refused galaxy's counterfactual properties are NaN). From a server
        without per-galaxy outcomes over gRPC: batch means, as arrays of length 1.
    status : ndarray (n,) of str
        Per image ``"ok"``, ``"projected"`` or ``"refused"`` (its image is NaN).
    reason : list of str
        Per image, why it was projected or refused ("" when ok).
    targets : dict of str to ndarray (n,)
        The value each intervened property was set to (relative interventions: the
        galaxy's abducted value shifted or scaled).
    uncertainty : ndarray (n, C, H, W) or None
        With ``n_particles``: per-pixel std of the counterfactual over the particles.
    intervals : dict of str to dict of str to ndarray (n,)
        With ``n_particles``: property -> quantile (p2.5, p16, p50, p84, p97.5) -> values.
    neighbours : list of list of dict
        With ``retrieve_k``: per image, its nearest galaxies in the server's index
        (``id``, ``distance``, ``metadata``), nearest first.
    retrieval : dict or None
        With ``retrieve_k``: ``k``, ``refined`` (the retrieval refiner changed the images),
        ``refiner_version``, a ``note`` saying what was done or why not, the index's
        ``embedder`` and the distance ``metric``.
    trace_id : str or None
    expected_draws : int
        0: point answers; N: ``images`` and ``counterfactual_properties`` are the expected
        answer, the mean over N draws of the noise the image does not identify.
    """

    request_id: str
    images: np.ndarray
    confidence: np.ndarray
    violation_score: np.ndarray
    latency_ms: float
    model_version: str
    factual_properties: dict[str, np.ndarray] = field(default_factory=dict)
    counterfactual_properties: dict[str, np.ndarray] = field(default_factory=dict)
    status: np.ndarray = field(default_factory=lambda: np.array([], dtype=str))
    reason: list[str] = field(default_factory=list)
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    uncertainty: np.ndarray | None = None
    intervals: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    neighbours: list[list[dict[str, Any]]] = field(default_factory=list)
    retrieval: dict[str, Any] | None = None
    trace_id: str | None = None
    expected_draws: int = 0


def answer_from_json(body: Mapping[str, Any]) -> CounterfactualAnswer:
    """The answer in a REST response body (or a job's stored result)."""
    from acie.wire.tensors import decode_b64

    t = body["counterfactual"]
    unc = body.get("uncertainty")

    def arr(values: Any) -> np.ndarray:
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)

    return CounterfactualAnswer(
        request_id=body["request_id"],
        images=decode_b64(t["shape"], t["dtype"], t["data"], allow_nan=True),
        confidence=np.asarray(body["confidence"]),
        violation_score=np.asarray(body["violation_score"]),
        latency_ms=float(body["latency_ms"]),
        model_version=body["model_version"],
        factual_properties={k: arr(v) for k, v in body["factual_properties"].items()},
        counterfactual_properties={k: arr(v) for k, v in body["counterfactual_properties"].items()},
        status=np.asarray(body.get("status") or [], dtype=str),
        reason=[r or "" for r in body.get("reason") or []],
        targets={k: arr(v["target"]) for k, v in (body.get("interventions") or {}).items()},
        uncertainty=(
            None
            if unc is None
            else decode_b64(
                unc["image_std"]["shape"],
                unc["image_std"]["dtype"],
                unc["image_std"]["data"],
                allow_nan=True,
            )
        ),
        intervals=(
            {}
            if unc is None
            else {k: {q: arr(v) for q, v in qs.items()} for k, qs in unc["intervals"].items()}
        ),
        neighbours=[list(row) for row in body.get("neighbours") or []],
        retrieval=body.get("retrieval"),
        trace_id=body.get("trace_id"),
        expected_draws=int(body.get("expected_draws") or 0),
    )


def answer_from_proto(resp: Any) -> CounterfactualAnswer:
    """The answer in a gRPC ``CounterfactualResponse``."""
    from acie.wire.tensors import decode_tensor

    t = resp.counterfactual
    gal = list(resp.galaxies)
    if gal:  # per-galaxy outcomes (servers since the relative-intervention API)
        names_f = sorted({k for g in gal for k in g.factual_properties})
        names_c = sorted({k for g in gal for k in g.counterfactual_properties})
        names_t = sorted({k for g in gal for k in g.targets})
        names_q = sorted({k for g in gal for k in g.intervals})

        def col(field: str, k: str) -> np.ndarray:
            return np.asarray([getattr(g, field).get(k, np.nan) for g in gal], dtype=np.float64)

        factual = {k: col("factual_properties", k) for k in names_f}
        counter = {k: col("counterfactual_properties", k) for k in names_c}
        targets = {k: col("targets", k) for k in names_t}
        intervals = {
            k: {
                q: np.asarray([g.intervals[k].values.get(q, np.nan) for g in gal])
                for q in sorted({q for g in gal for q in g.intervals[k].values})
            }
            for k in names_q
        }
    else:
        factual = {k: np.asarray([v]) for k, v in resp.factual_properties_mean.items()}
        counter = {k: np.asarray([v]) for k, v in resp.counterfactual_properties_mean.items()}
        targets, intervals = {}, {}
    u = resp.uncertainty if resp.HasField("uncertainty") else None
    return CounterfactualAnswer(
        request_id=resp.request_id,
        images=decode_tensor(t.shape, t.dtype, t.data, allow_nan=True),
        confidence=np.asarray(resp.confidence),
        violation_score=np.asarray(resp.violation_score),
        latency_ms=resp.latency_ms,
        model_version=resp.model_version,
        factual_properties=factual,
        counterfactual_properties=counter,
        status=np.asarray([g.status for g in gal], dtype=str),
        reason=[g.reason for g in gal],
        targets=targets,
        uncertainty=None if u is None else decode_tensor(u.shape, u.dtype, u.data, allow_nan=True),
        intervals=intervals,
        neighbours=[
            [
                {
                    "id": h.id,
                    "distance": h.distance,
                    "metadata": json.loads(h.metadata_json or "{}"),
                }
                for h in g.neighbours
            ]
            for g in gal
        ]
        if any(g.neighbours for g in gal)
        else [],
        retrieval=(
            {
                "k": max(len(g.neighbours) for g in gal),
                "refined": resp.refined,
                "refiner_version": resp.refiner_version or None,
                "note": resp.retrieval_note,
                "embedder": resp.retrieval_embedder or None,
                "metric": resp.retrieval_metric or None,
            }
            if resp.retrieval_note
            else None
        ),
        trace_id=resp.trace_id or None,
        expected_draws=int(resp.expected_draws),
    )
