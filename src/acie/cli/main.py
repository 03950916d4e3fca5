"""Entry point of the ``acie`` command.

Each subcommand group lives in its own module and imports heavy libraries only inside
its commands, so ``acie --help`` stays fast.
"""

from __future__ import annotations

import typer

from acie import __version__
from acie.cli import admin, auth, causal, compute, data, dm, embed, galaxy, keys, model, ops, serve
from acie.errors import AcieError

app = typer.Typer(
    name="acie",
    help="ACIE: causal and counterfactual inference for astrophysics and dark-matter detection.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.add_typer(dm.app, name="dm")
app.add_typer(causal.app, name="causal")
app.add_typer(galaxy.app, name="galaxy")
app.add_typer(model.app, name="model")
app.add_typer(keys.app, name="keys")
app.add_typer(auth.app, name="auth")
app.add_typer(ops.app, name="ops")
app.add_typer(admin.app, name="admin")
app.add_typer(compute.app, name="compute")
app.add_typer(data.data_app, name="data")
app.add_typer(data.index_app, name="index")
app.add_typer(embed.app, name="embed")
serve.register(app)


@app.command()
def version() -> None:
    """Print the ACIE version."""
    typer.echo(f"acie {__version__}")


def main() -> None:
    """Run the command, turning ACIE errors into a one-line message and exit status 2.

    Usage errors are typer's (exit status 2 with the usage line); an ``AcieError`` from a
    command is shown as ``error: <message>`` without a traceback.
    """
    try:
        app()
    except AcieError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
