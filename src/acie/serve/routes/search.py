"""``POST /v1/search``: k nearest neighbours among the images the caller may see.

The index holds the vectors of the served galaxy embedder
(:mod:`acie.serve.embedding_index`): ingested datasets, catalogues built with ``acie
index build`` and the images of finished jobs. The query is an ``image`` (one galaxy,
(1, C, H, W) or (C, H, W) in nanomaggies per pixel), which the server embeds, or a
``vector`` made by the same embedder (optionally naming it in ``embedder``); a vector of
another length or another named embedder is refused (:class:`EmbedderMismatchError`).
The answer names the embedder, the dimension and the distance metric.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field, model_validator

from acie.serve import job_service
from acie.serve.auth import Action, Principal
from acie.serve.deps import require, runtime_of
from acie.serve.embedding_index import served_for
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.schemas import FiniteFloat, SearchHit, SearchRequest, SearchResponse, TensorJSON
from acie.wire.tensors import decode_b64

__all__ = ["SearchAnswer", "SearchQuery", "router"]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


class SearchQuery(SearchRequest):
    """k nearest neighbours of a galaxy image, or of a galaxy-embedder vector.

    Give exactly one of ``vector`` (made by the served embedder: ``embedder`` and
    ``dim`` of any search answer) and ``image`` (embedded by the server). You only find
    images you may read (your own; shared ones for collaborators; admins all).
    """

    vector: list[FiniteFloat] | None = Field(  # type: ignore[assignment]
        default=None, min_length=1, max_length=4096
    )
    image: TensorJSON | None = Field(
        default=None, description="one galaxy, (1, C, H, W) or (C, H, W), nanomaggies / pixel"
    )
    embedder: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None,
        description="the embedder that made `vector` (e.g. galaxy-embedder:<sha256>); "
        "refused unless it is the server's",
    )

    @model_validator(mode="after")
    def _one_query(self) -> SearchQuery:
        if (self.vector is None) == (self.image is None):
            raise ValueError("give a vector or an image, not both and not neither")
        return self


class SearchAnswer(SearchResponse):
    """The nearest neighbours, nearest first, and what made the vectors compared."""

    embedder: str = Field(description="galaxy-embedder:<SHA-256 of the embedder file>")
    dim: int = Field(description="length of the index's vectors")
    metric: str = Field(description="distance: l2 (Euclidean) or cosine")


@router.post("/search", response_model=SearchAnswer, summary="k nearest neighbours")
def search(
    body: SearchQuery, request: Request, principal: Principal = Depends(require(Action.read))
) -> SearchAnswer:
    rt = runtime_of(request)
    served = served_for(rt)
    image = None
    if body.image is not None:
        image = decode_b64(body.image.shape, body.image.dtype, body.image.data)
    vector = served.query_vector(image=image, vector=body.vector, embedder=body.embedder)
    hits = job_service.search(served.index, principal, vector, k=body.k, where=body.filter)
    return SearchAnswer(hits=[SearchHit(**h) for h in hits], **served.describe())
