"""`acie galaxy`: Causal galaxy simulator, datasets, deep-SCM training and counterfactuals."""

from __future__ import annotations

import typer

app = typer.Typer(help="Causal galaxy simulator, datasets, deep-SCM training and counterfactuals.", no_args_is_help=True)
