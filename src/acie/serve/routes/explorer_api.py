"""The explorer's routes, mounted by :func:`acie.serve.app.create_app` after :data:`ROUTERS`.

==============  ======================================================================
module          routes
==============  ======================================================================
``session``     ``POST /v1/session/login``, ``/refresh``, ``/logout``; ``GET /v1/session``
``explorer``    ``GET /v1/explorer/catalogues``, ``/projection``, ``/properties``
``alerts``      ``WS /v1/alerts``
==============  ======================================================================
"""

from __future__ import annotations

from acie.serve.routes import alerts, explorer, session

__all__ = ["EXPLORER_ROUTERS"]

EXPLORER_ROUTERS = (session.router, explorer.router, alerts.router)
