"""`acie model`: Deep SCM training, counterfactual generation and evaluation."""

from __future__ import annotations

import typer

app = typer.Typer(help="Deep SCM: train, generate counterfactual galaxy images, evaluate.", no_args_is_help=True)
