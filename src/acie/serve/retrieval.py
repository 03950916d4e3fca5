"""Neighbours of a counterfactual's galaxies: ``retrieve_k`` and a metadata filter.

A counterfactual request may ask for the ``retrieve_k`` nearest galaxies of each of its
images in the server's vector index (the images of finished jobs and ingested
datasets), optionally within a metadata filter such as a redshift window
(``{"redshift": {">=": 0.05, "<=": 0.1}}``). Each image is embedded with the embedder
the index was filled with (:attr:`acie.serve.runtime.ServingRuntime.embedder`: the
served model's encoder features), the index is searched under the same visibility
rules as ``POST /v1/search`` (researchers see their own images, collaborators shared
ones, admins all), and the answer lists each galaxy's neighbours (id, distance,
metadata). The neighbours are provenance only: they do not change the counterfactual
(the retrieval refiner needs the neighbours' feature vectors, which the index's search
does not return; docs/serving.md). The audit log
gets one ``counterfactual.neighbours`` row per six neighbour ids, naming them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from acie.errors import BackendUnavailableError, DataFormatError, OutOfRangeError, expected_got

__all__ = [
    "MAX_RETRIEVED",
    "MAX_RETRIEVE_K",
    "audit_neighbours",
    "check_retrieval",
    "retrieve_neighbours",
]

#: most neighbours per image
MAX_RETRIEVE_K = 16
#: most neighbours per request (images x retrieve_k)
MAX_RETRIEVED = 256
_IDS_PER_AUDIT_ROW = 6  # 6 UUIDs and their separators fit the 255-character resource


def check_retrieval(rt: Any, k: object, n: int, where: Mapping[str, Any] | None) -> int:
    """Check ``retrieve_k`` and the filter of a request of ``n`` images; returns ``k``.

    Raises
    ------
    DataFormatError
        ``k`` is not an integer.
    OutOfRangeError
        ``k`` outside 0..:data:`MAX_RETRIEVE_K`, or ``n * k`` above :data:`MAX_RETRIEVED`.
    InputValidationError
        A malformed filter (:func:`acie.store.vectors.filters.parse_filters`).
    BackendUnavailableError
        ``k > 0`` and the server has no vector index or embedder.
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise DataFormatError(expected_got("retrieve_k", "an integer", repr(k)))
    if not 0 <= k <= MAX_RETRIEVE_K:
        raise OutOfRangeError(expected_got("retrieve_k", f"0 to {MAX_RETRIEVE_K}", k))
    if n * k > MAX_RETRIEVED:
        raise OutOfRangeError(
            expected_got("images x retrieve_k", f"at most {MAX_RETRIEVED}", f"{n} x {k}")
        )
    if where:
        from acie.store.vectors.filters import parse_filters

        parse_filters(dict(where))
    if k and (rt.vector_index is None or rt.embedder is None):
        raise BackendUnavailableError(
            "retrieve_k needs the server's embedding index, which is not available"
        )
    return k


def retrieve_neighbours(
    rt: Any, principal: Any, images: np.ndarray, k: int, where: Mapping[str, Any] | None
) -> list[list[dict[str, Any]]]:
    """The ``k`` nearest visible neighbours of each image (n, C, H, W), nearest first."""
    if k == 0:
        return [[] for _ in range(images.shape[0])]
    from acie.serve.job_service import search

    vectors = np.asarray(rt.embedder(images), dtype=np.float32)
    return [
        search(rt.vector_index, principal, v.tolist(), k=k, where=dict(where or {}))
        for v in vectors
    ]


def audit_neighbours(
    rt: Any, principal: Any, request_id: str, neighbours: list[list[dict[str, Any]]]
) -> None:
    """Name every neighbour of a request in the audit log (six ids per row)."""
    ids = list(dict.fromkeys(h["id"] for hits in neighbours for h in hits))
    for s in range(0, len(ids), _IDS_PER_AUDIT_ROW):
        rt.audit.record(
            actor=principal.subject,
            action="counterfactual.neighbours",
            outcome="OK",
            request_id=request_id,
            resource=",".join(ids[s : s + _IDS_PER_AUDIT_ROW]),
        )
