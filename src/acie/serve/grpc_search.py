"""The gRPC ``Search`` method: k nearest neighbours of a galaxy image or a galaxy-embedder vector.

The search of ``POST /v1/search`` (:mod:`acie.serve.routes.search`) over gRPC. The
request is checked by REST's own model (:class:`~acie.serve.routes.search.SearchQuery`:
``k`` 1..1000, the metadata filter, finite vector values, exactly one of ``vector`` and
``image``); an ``image`` (one galaxy, (1, C, H, W) or (C, H, W)) is embedded by the
served galaxy embedder (:mod:`acie.serve.embedding_index`), a ``vector`` of another
length or naming another embedder is refused
(:class:`~acie.serve.embedding_index.EmbedderMismatchError`), and the caller finds only
the images it may read (researchers their own, collaborators shared ones, admins all).
The answer names the embedder, the dimension and the distance metric, as REST's
``SearchAnswer`` does.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic

from acie.errors import DataFormatError, InputValidationError
from acie.serve import job_service
from acie.serve.embedding_index import served_for
from acie.wire.proto import inference_pb2 as pb
from acie.wire.tensors import decode_tensor

__all__ = ["DEFAULT_K", "search"]

#: neighbours returned when the request leaves ``k`` unset (REST's default)
DEFAULT_K = 10


def _filter(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DataFormatError(f"filter_json must be JSON; got ({exc})") from None


def _query(request: pb.SearchRequest) -> Any:
    """The request as REST's ``SearchQuery`` (the image's bytes are decoded separately)."""
    from acie.serve.routes.search import SearchQuery

    image = None
    if request.HasField("image"):
        image = {"shape": list(request.image.shape), "dtype": request.image.dtype, "data": ""}
    fields = {
        "vector": list(request.vector) or None,
        "image": image,
        "embedder": request.embedder or None,
        "k": int(request.k) if request.HasField("k") else DEFAULT_K,
        "filter": _filter(request.filter_json),
    }
    try:
        return SearchQuery.model_validate(fields)
    except pydantic.ValidationError as exc:
        why = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors()
        )
        raise InputValidationError(f"invalid search request: {why}") from None


def search(rt: Any, principal: Any, request: pb.SearchRequest) -> pb.SearchResponse:
    """Answer one ``Search`` call of ``principal`` on the runtime ``rt``."""
    query = _query(request)
    served = served_for(rt)
    image = None
    if query.image is not None:
        image = decode_tensor(request.image.shape, request.image.dtype, request.image.data)
    vector = served.query_vector(image=image, vector=query.vector, embedder=query.embedder)
    hits = job_service.search(served.index, principal, vector, k=query.k, where=query.filter)
    described = served.describe()
    return pb.SearchResponse(
        hits=[
            pb.Neighbour(
                id=h["id"],
                distance=h["distance"],
                metadata_json=json.dumps(h["metadata"], default=str),
            )
            for h in hits
        ],
        embedder=described["embedder"],
        dim=int(described["dim"]),
        metric=described["metric"],
    )
