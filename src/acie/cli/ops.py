"""`acie ops`: Experiment-operations telemetry: validate, collect, analyze, serve reports."""

from __future__ import annotations

import typer

app = typer.Typer(help="Experiment-operations telemetry: validate, collect, analyze, serve reports.", no_args_is_help=True)
