"""The explorer's routes, mounted by :func:`acie.serve.app.create_app` after :data:`ROUTERS`.

======================  ==============================================================
module                  routes
======================  ==============================================================
``session``             ``POST /v1/session/login``, ``/refresh``, ``/logout``;
                        ``GET /v1/session``
``explorer``            ``GET /v1/explorer/catalogues``, ``/projection``, ``/properties``
``explorer_galaxy``     ``GET /v1/explorer/galaxy``, ``POST …/galaxy/counterfactual``
``explorer_selection``  ``POST /v1/explorer/selection/counterfactual``,
                        ``GET /v1/explorer/selection/{job_id}``
``alerts``              ``WS /v1/alerts``
======================  ==============================================================
"""

from __future__ import annotations

from acie.serve.routes import (
    alerts,
    explorer,
    explorer_galaxy,
    explorer_selection,
    session,
)

__all__ = ["EXPLORER_ROUTERS"]

EXPLORER_ROUTERS = (
    session.router,
    explorer.router,
    explorer_galaxy.router,
    explorer_selection.router,
    alerts.router,
)
