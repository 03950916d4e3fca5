"""Neighbours of a counterfactual's galaxies: ``retrieve_k`` and a metadata filter.

A counterfactual request or job may ask for the ``retrieve_k`` nearest galaxies of each
of its images in the server's vector index (ingested datasets, catalogues built with
``acie index build``, the images of finished jobs), optionally within a metadata filter
such as a redshift window (``{"redshift": {">=": 0.05, "<=": 0.1}}``). Each image is
embedded with the served galaxy embedder, the one that made the index's vectors
(:mod:`acie.serve.embedding_index`; a model whose images it does not take is refused
with :class:`~acie.serve.embedding_index.EmbedderMismatchError`), the index is searched
under the same visibility rules as ``POST /v1/search`` (researchers see their own
images, collaborators shared ones, admins all), and the answer lists each galaxy's
neighbours (id, distance, metadata). The audit log gets one ``counterfactual.neighbours``
row (``job.neighbours`` for a job) per six neighbour ids, naming them.

:func:`refine` then applies the shipped retrieval refiner
(:mod:`acie.deepscm.retrieval_refiner`) when it fits: it was trained on features of the
index's embedder (its ``embedder`` is the served ``galaxy-embedder:<version>``) for the
served image shape, and the neighbours' stored vectors can be read from the index's
``embeddings`` table. The refiner edits only spatial frequencies above its cutoff and
adds no flux, so the physical properties are unchanged; it runs on the unwatermarked
counterfactual (the mark is taken out and put back), and refused galaxies (NaN images)
are left alone. When it does not fit, the neighbours are provenance only and the answer
says why (``retrieval.note``). The answer's ``retrieval`` also names the embedder and
the distance metric.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np

from acie.errors import BackendUnavailableError, DataFormatError, OutOfRangeError, expected_got
from acie.serve.embedding_index import ServedEmbedding, served_for

__all__ = [
    "MAX_RETRIEVED",
    "MAX_RETRIEVE_K",
    "audit_neighbours",
    "check_retrieval",
    "job_neighbours",
    "neighbour_audit_rows",
    "neighbours_of",
    "refine",
    "refine_with",
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
        ``k > 0`` and the server has no vector index.
    EmbedderMismatchError
        ``k > 0`` and the served model's images are not what the index's embedder takes.
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
    if k:
        if rt.vector_index is None:
            raise BackendUnavailableError(
                "retrieve_k needs the server's embedding index, which is not available"
            )
        served_for(rt).check_images(tuple(rt.model.image_shape), "retrieve_k")
    return k


def retrieve_neighbours(
    rt: Any, principal: Any, images: np.ndarray, k: int, where: Mapping[str, Any] | None
) -> list[list[dict[str, Any]]]:
    """The ``k`` nearest visible neighbours of each image (n, C, H, W), nearest first."""
    if k == 0:
        return [[] for _ in range(images.shape[0])]
    return neighbours_of(served_for(rt), principal, images, k, where)


def neighbours_of(
    served: ServedEmbedding,
    principal: Any,
    images: np.ndarray,
    k: int,
    where: Mapping[str, Any] | None,
) -> list[list[dict[str, Any]]]:
    """The ``k`` nearest neighbours ``principal`` may see of each image, by ``served``'s index."""
    from acie.serve.job_service import search

    if k == 0:
        return [[] for _ in range(images.shape[0])]
    served.check_images(tuple(images.shape[1:]), "retrieve_k")
    return [
        search(served.index, principal, v.tolist(), k=k, where=dict(where or {}))
        for v in served.embed(images)
    ]


def neighbour_audit_rows(
    actor: str, request_id: str, neighbours: list[list[dict[str, Any]]], action: str
) -> list[dict[str, Any]]:
    """Audit rows naming every neighbour (six ids per row) as ``AuditWriter.record`` kwargs."""
    ids = list(dict.fromkeys(h["id"] for hits in neighbours for h in hits))
    return [
        {
            "actor": actor,
            "action": action,
            "outcome": "OK",
            "request_id": request_id,
            "resource": ",".join(ids[s : s + _IDS_PER_AUDIT_ROW]),
        }
        for s in range(0, len(ids), _IDS_PER_AUDIT_ROW)
    ]


def audit_neighbours(
    rt: Any, principal: Any, request_id: str, neighbours: list[list[dict[str, Any]]]
) -> None:
    """Name every neighbour of a request in the audit log (six ids per row)."""
    for row in neighbour_audit_rows(
        principal.subject, request_id, neighbours, "counterfactual.neighbours"
    ):
        rt.audit.record(**row)


def job_neighbours(
    served: ServedEmbedding, model: Any, job: Any, call: Any, result: Any, engine: Any
) -> tuple[Any, list[list[dict[str, Any]]], dict[str, Any]]:
    """A job's ``retrieve_k`` neighbours, audited in ``engine``'s log, and the refined result.

    The neighbours are those the job's owner may see under the role the job was
    submitted with (``payload["role"]``; researcher when absent). Returns ``(result,
    neighbours, retrieval info)``.
    """
    from acie.serve.auth import Principal, Role
    from acie.store.audit import AuditLog

    p = job.payload or {}
    owner = job.user_sub or ""
    role = Role(p.get("role") or Role.researcher.value)
    principal = Principal(subject=owner, role=role, scopes=frozenset())
    hits = neighbours_of(
        served, principal, call.observation, int(p["retrieve_k"]), p.get("retrieve_filter")
    )
    rows = neighbour_audit_rows(owner, str(p["request_id"]), hits, "job.neighbours")
    if rows:
        AuditLog(engine).append_many(
            [
                {
                    "request_id": r["request_id"],
                    "user_sub": r["actor"],
                    "action": f"{r['action']}:{r['outcome']}",
                    "resource": r["resource"],
                }
                for r in rows
            ]
        )
    refined, info = refine_with(model, served, result, hits)
    return refined, hits, info


log = logging.getLogger("acie.serve.retrieval")


@functools.lru_cache(maxsize=1)
def _shipped_refiner() -> Any:
    from acie.deepscm.retrieval_refiner import default_refiner_path, load_default_refiner

    if not default_refiner_path().exists():
        return None
    return load_default_refiner()


def _stored_vectors(index: Any, ids: list[str]) -> dict[str, np.ndarray]:
    """The stored vectors of ``ids`` from the index's ``embeddings`` table."""
    from sqlalchemy import select

    from acie.store.schema import Embedding

    engine = getattr(index, "engine", None)
    if engine is None or not ids:
        return {}
    uids = [uuid.UUID(i) for i in ids]
    with engine.connect() as conn:
        rows = conn.execute(
            select(Embedding.id, Embedding.vector).where(Embedding.id.in_(uids))
        ).all()
    return {str(r[0]): np.asarray(r[1], dtype=np.float32) for r in rows}


def refine(
    rt: Any, result: Any, neighbours: list[list[dict[str, Any]]]
) -> tuple[Any, dict[str, Any]]:
    """``result`` with its images refined from ``neighbours`` when the refiner fits.

    Returns the (possibly new) result and what was done: ``{"k", "refined",
    "refiner_version", "note", "embedder", "metric"}``.
    """
    return refine_with(rt.model, served_for(rt), result, neighbours)


def refine_with(
    model: Any, served: ServedEmbedding, result: Any, neighbours: list[list[dict[str, Any]]]
) -> tuple[Any, dict[str, Any]]:
    """:func:`refine` for a model and the served embedding (the job worker has no runtime)."""
    k = max((len(row) for row in neighbours), default=0)
    described = served.describe()
    info: dict[str, Any] = {
        "k": k,
        "refined": False,
        "refiner_version": None,
        "note": "",
        "embedder": described["embedder"],
        "metric": described["metric"],
    }
    refiner = _shipped_refiner()
    want = served.name
    if refiner is None:
        info["note"] = "provenance only: no retrieval refiner is installed"
        return result, info
    info["refiner_version"] = refiner.version
    if refiner.embedder != want or tuple(refiner.image_shape) != tuple(model.image_shape):
        info["note"] = (
            f"provenance only: the refiner was trained on {refiner.embedder} features of "
            f"{tuple(refiner.image_shape)} images; the index holds {want} features of "
            f"{tuple(model.image_shape)} images"
        )
        return result, info
    vectors = _stored_vectors(served.index, [h["id"] for row in neighbours for h in row])
    n = len(neighbours)
    feats = np.zeros((n, k, refiner.feature_dim), dtype=np.float32)
    mask = np.zeros((n, k), dtype=bool)
    for i, row in enumerate(neighbours):
        for j, h in enumerate(row):
            v = vectors.get(h["id"])
            if v is not None and v.shape == (refiner.feature_dim,):
                feats[i, j], mask[i, j] = v, True
    images = np.asarray(result.images, dtype=np.float32)
    ok = np.all(np.isfinite(images.reshape(n, -1)), axis=1) & mask.any(axis=1)
    if not ok.any():
        info["note"] = "provenance only: no stored neighbour vectors for these galaxies"
        return result, info
    mark = getattr(model, "watermark", None)
    x = images[ok]
    if mark is not None:
        x, _ = mark.remove(x)
    refined = refiner.refine(x, feats[ok], mask[ok])
    if mark is not None and getattr(result, "watermarked", True):
        refined = mark.embed(refined, model.noise_sigma)
    out = images.copy()
    out[ok] = refined
    info["refined"] = True
    info["note"] = f"refined {int(ok.sum())} of {n} galaxies from their neighbours' features"
    log.debug("retrieval refinement", extra={"galaxies": int(ok.sum()), "k": k})
    return dataclasses.replace(result, images=out), info
