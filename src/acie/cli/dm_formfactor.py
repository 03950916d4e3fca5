"""`acie dm formfactor|materials|select|…`: ab-initio form factors and the materials library.

Registered onto the ``acie dm`` group by :func:`register`.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the form-factor and materials commands to ``app`` (the ``dm`` group)."""
