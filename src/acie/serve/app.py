"""The REST gateway (FastAPI): the one app factory, used by ``acie serve`` and the tests.

Routes (the OpenAPI document is at ``/openapi.json``, interactive docs at ``/docs``):

======================================  =========  ==============================================
route                                   needs      what
======================================  =========  ==============================================
``GET /healthz``                        —          SERVING/NOT_SERVING (503 while shutting down)
``GET /metrics``                        —          Prometheus text format
``GET /explorer/``                      —          the explorer web app (static bundle)
``GET /dashboard/…``                    —          redirect (307) to ``/explorer/``
``GET /v1/models``                      read       served models with SHA-256 versions
``POST /v1/counterfactual``             submit     synchronous counterfactual
``POST /v1/jobs``                       submit     asynchronous counterfactual job (202)
``GET /v1/jobs``                        read       recent jobs the caller may see
``GET /v1/jobs/{job_id}``               read       state and result of one job
``WS /v1/jobs/{job_id}/progress``       read       QUEUED → PROCESSING → PHYSICS_CHECK → COMPLETE
``POST /v1/search``                     read       k nearest neighbours in the embedding index
``POST /v1/blind/infer``                submit     encrypted vector in, encrypted vector out
``GET /v1/blind/layer``                 read       what the blind layer computes (names, sizes)
``GET /ops/report``, ``/ops/metrics``,  ops:read   the operations report (:mod:`acie.ops.api`);
``/ops/health``                                    open without ``TELEMETRY_KEY`` or with
                                                   ``OPS_OPEN``
======================================  =========  ==============================================

The routes live in :mod:`acie.serve.routes` (one module per resource), their
dependencies (runtime, :func:`~acie.serve.deps.require`) in :mod:`acie.serve.deps`, the
error bodies in :mod:`acie.serve.http_errors` and the trace/limit/metrics/audit
middleware in :mod:`acie.serve.middleware`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from acie import __version__
from acie.serve.deps import require_ops
from acie.serve.http_errors import ERROR_RESPONSES, install_error_handlers
from acie.serve.middleware import Observability
from acie.serve.routes import ROUTERS, datasets
from acie.serve.routes.explorer_api import EXPLORER_ROUTERS
from acie.serve.runtime import ServingRuntime

__all__ = ["create_app"]

#: the explorer's built bundle (index.html + assets), shipped inside the package
EXPLORER_DIR = Path(__file__).with_name("explorer_app")


def create_app(
    runtime: ServingRuntime, *, extra_routers: Sequence[APIRouter] = (), ops_report: bool = True
) -> FastAPI:
    """The FastAPI application over ``runtime``, exactly as ``acie serve`` serves it.

    Parameters
    ----------
    runtime : ServingRuntime
    extra_routers : sequence of fastapi.APIRouter
        Mounted after the built-in routes; they see the runtime as
        ``request.app.state.runtime`` and may protect routes with :func:`acie.serve.deps.require`.
    ops_report : bool
        Mount the operations report under ``/ops`` (:func:`acie.ops.api.build_ops_router`,
        telemetry from ``OPS_TELEMETRY_FILES``). Its cache is refreshed in the background
        while the app runs (started and stopped by the app's lifespan).

    Returns
    -------
    fastapi.FastAPI
    """
    cache: Any = None
    routers = [*ROUTERS, *EXPLORER_ROUTERS, datasets.router]
    guarded: list[APIRouter] = []
    if ops_report:
        from acie.ops.api import build_ops_router

        ops_router, cache = build_ops_router(runtime.settings)
        guarded.append(ops_router)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if cache is not None:
            cache.start()
        try:
            yield
        finally:
            if cache is not None:
                cache.stop()

    app = FastAPI(
        title="ACIE inference API",
        version=__version__,
        description="Counterfactual inference on galaxy images with physics checks, "
        "jobs, kNN search and blind (Paillier) inference. Errors carry "
        "the gRPC status code name; see docs/serving.md.",
        lifespan=lifespan,
        docs_url=None,  # served below from local assets: the CDN default breaks offline
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.ops_cache = cache
    install_error_handlers(app)
    for router in [*routers, *extra_routers]:
        app.include_router(router)
    for router in guarded:  # decrypted telemetry: a token with ops:read (deps.require_ops)
        app.include_router(
            router,
            dependencies=[Depends(require_ops)],
            responses={k: ERROR_RESPONSES[k] for k in (401, 403, 429)},
        )
    _mount_explorer(app)
    _mount_swagger_ui(app)
    app.add_middleware(
        Observability, runtime=runtime, templates=lambda: list(app.openapi().get("paths", {}))
    )
    return app


def _mount_swagger_ui(app: FastAPI) -> None:
    """Interactive API docs at ``/docs``, with Swagger UI's files served by this app.

    FastAPI's default page loads Swagger UI from a CDN; the ``swagger-ui-bundle`` package
    ships the same files, so ``/docs`` works on a machine without internet access.
    """
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — docs",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )


def _mount_explorer(app: FastAPI) -> None:
    """The explorer at ``/explorer/``; the old ``/dashboard/`` URLs redirect there.

    The bundle is built from ``frontend/`` into :data:`EXPLORER_DIR` (``make frontend``)
    and shipped in the package, so serving it needs no Node. Without a bundle the
    mount answers 404.
    """

    @app.get("/dashboard", include_in_schema=False)
    @app.get("/dashboard/{rest:path}", include_in_schema=False)
    def dashboard_moved(rest: str = "") -> RedirectResponse:  # noqa: ARG001 - any old page
        return RedirectResponse("/explorer/", status_code=307)

    app.mount(
        "/explorer",
        StaticFiles(directory=EXPLORER_DIR, html=True, check_dir=False),
        name="explorer",
    )
