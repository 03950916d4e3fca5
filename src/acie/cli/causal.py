"""`acie causal`: Structural causal models: the demo, discovery, effect estimation."""

from __future__ import annotations

import typer

app = typer.Typer(help="Structural causal models: the demo, discovery, effect estimation.", no_args_is_help=True)
