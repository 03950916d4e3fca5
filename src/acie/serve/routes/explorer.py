"""The explorer's data: ``GET /v1/explorer/catalogues``, ``/projection``, ``/properties``.

``projection`` and ``properties`` answer column payloads (:mod:`acie.wire.typed_arrays`,
``application/vnd.acie.columns``), not JSON numbers: the projection is float32 ``x``,
``y`` and uint32 ``id`` (12 bytes per point), computed server-side (UMAP when umap-learn
is installed, else PCA) and cached on disk per (catalogue, model version, method)
(:class:`acie.store.projection_cache.ProjectionCache`); ``X-Cache`` says ``hit`` or
``miss``. ``properties`` returns the chosen property columns as float32 plus ``id``.
Both accept a bearer token or the browser session (:func:`acie.serve.sessions.require_session`).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from acie.analysis.embedding_catalogues import (
    MAX_SIM_GALAXIES,
    catalogue_names,
    load_embedding_catalogue,
)
from acie.analysis.projection import available_methods
from acie.errors import InputValidationError
from acie.serve.auth import Action, Principal
from acie.serve.deps import runtime_of
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.sessions import require_session
from acie.store.projection_cache import ProjectionCache
from acie.wire.typed_arrays import CONTENT_TYPE, encode_columns

__all__ = ["router"]

router = APIRouter(prefix="/v1/explorer", responses=ERROR_RESPONSES, tags=["explorer"])
_lock = threading.Lock()
_BINARY: dict[int | str, dict[str, Any]] = {
    200: {"content": {CONTENT_TYPE: {}}, "description": "column payload"}
}

CatalogueQuery = Annotated[
    str, Query(min_length=1, max_length=64, description="sample name or sim_<n>")
]


class Catalogues(BaseModel):
    """What the explorer can map."""

    catalogues: list[str]
    simulated: str
    methods: list[str]
    model_version: str


def _cache(request: Request) -> ProjectionCache:
    app = request.app
    with _lock:
        cache = getattr(app.state, "projection_cache", None)
        if cache is None:
            root = runtime_of(request).settings.ACIE_DATA_DIR / "projections"
            cache = app.state.projection_cache = ProjectionCache(root)
    return cache


@router.get("/catalogues", response_model=Catalogues, summary="catalogues and methods")
def catalogues(
    request: Request, _p: Principal = Depends(require_session(Action.read))
) -> Catalogues:
    return Catalogues(
        catalogues=catalogue_names(),
        simulated=f"sim_<n>, 3 <= n <= {MAX_SIM_GALAXIES}",
        methods=["auto", *available_methods()],
        model_version=runtime_of(request).model_version,
    )


@router.get(
    "/projection",
    response_class=Response,
    responses=_BINARY,
    summary="2-D projection of a catalogue's embeddings (float32 x, y; uint32 id)",
)
def projection(
    request: Request,
    catalogue: CatalogueQuery,
    method: Annotated[str, Query(description="auto, umap or pca")] = "auto",
    _p: Principal = Depends(require_session(Action.read)),
) -> Response:
    rt = runtime_of(request)
    result = _cache(request).payload(catalogue, rt.model_version, method)
    return Response(
        result.data,
        media_type=CONTENT_TYPE,
        headers={
            "X-Cache": "hit" if result.hit else "miss",
            "X-Projection-Method": result.method,
            "X-Model-Version": rt.model_version,
            "Cache-Control": "private, max-age=0, must-revalidate",
        },
    )


@router.get(
    "/properties",
    response_class=Response,
    responses=_BINARY,
    summary="property columns of a catalogue as float32 typed arrays (plus uint32 id)",
)
def properties(
    catalogue: CatalogueQuery,
    columns: Annotated[
        str | None, Query(max_length=2048, description="comma-separated; default all")
    ] = None,
    _p: Principal = Depends(require_session(Action.read)),
) -> Response:
    cat = load_embedding_catalogue(catalogue)
    names = (
        [c.strip() for c in columns.split(",") if c.strip()] if columns else list(cat.properties)
    )
    unknown = [c for c in names if c not in cat.properties or c == "id"]
    if unknown or not names:
        raise InputValidationError(
            f"columns must be properties of {catalogue!r}: {sorted(cat.properties)}; "
            f"got {unknown or 'none'}"
        )
    data = encode_columns(
        {"id": cat.ids, **{c: cat.properties[c] for c in dict.fromkeys(names)}},
        meta={"catalogue": catalogue, "units": {c: cat.units.get(c, "") for c in names}},
    )
    return Response(data, media_type=CONTENT_TYPE)
