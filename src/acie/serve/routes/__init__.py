"""The REST routes, one module per resource, each a module-level ``router``.

==============  =====================================================================
module          routes
==============  =====================================================================
``health``      ``GET /healthz``, ``GET /metrics``, ``GET /`` (to the explorer)
``models``      ``GET /v1/models``
``counterfactual``  ``POST /v1/counterfactual``
``jobs``        ``POST /v1/jobs``, ``GET /v1/jobs``, ``GET /v1/jobs/{job_id}``,
                ``WS /v1/jobs/{job_id}/progress``
``search``      ``POST /v1/search``
``blind``       ``POST /v1/blind/infer``, ``GET /v1/blind/layer``
==============  =====================================================================

:data:`ROUTERS` lists them in mounting order (:func:`acie.serve.app.create_app`).
"""

from __future__ import annotations

from acie.serve.routes import blind, counterfactual, health, jobs, models, search

__all__ = ["ROUTERS"]

ROUTERS = (
    health.router,
    models.router,
    counterfactual.router,
    jobs.router,
    search.router,
    blind.router,
)
