"""`acie keys`: Paillier key pairs and AES-GCM keys for blind inference and telemetry."""

from __future__ import annotations

import typer

app = typer.Typer(help="Paillier key pairs and AES-GCM keys for blind inference and telemetry.", no_args_is_help=True)
