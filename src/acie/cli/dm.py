"""`acie dm`: Dark-matter detection physics: rates, reach curves, modulation, form factors, plots."""

from __future__ import annotations

import typer

app = typer.Typer(help="Dark-matter detection physics: rates, reach curves, modulation, form factors, plots.", no_args_is_help=True)

from acie.cli import dm_formfactor  # noqa: E402  (commands of the form-factor part)

dm_formfactor.register(app)
