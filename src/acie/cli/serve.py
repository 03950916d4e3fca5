"""`acie serve`: REST, gRPC and a worker on embedded defaults."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the ``serve`` command to the top-level app."""

    @app.command()
    def serve() -> None:
        """Start the API server (REST + gRPC) and a worker."""
        typer.echo("the server is not part of this build yet", err=True)
        raise typer.Exit(1)
