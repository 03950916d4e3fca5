"""`acie auth`: API tokens for local use."""

from __future__ import annotations

import typer

app = typer.Typer(help="API authentication: mint and inspect tokens for local use.", no_args_is_help=True)
