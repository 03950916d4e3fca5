"""`acie admin`: Administration: database migrations, tokens, backups, vector indexes."""

from __future__ import annotations

import typer

app = typer.Typer(help="Administration: database migrations, tokens, backups, vector indexes.", no_args_is_help=True)
