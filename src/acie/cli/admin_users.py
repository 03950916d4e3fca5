"""`acie admin user add|list|disable`: local accounts for signing in to the explorer.

Registered on the ``acie admin`` app by :mod:`acie.cli.admin`; see :mod:`acie.store.users`.
The password is read from ``--password-file`` (first line), the ``ACIE_NEW_PASSWORD``
environment variable, or a hidden prompt (asked twice), never from a command-line
argument, which other users of the machine could read in the process list.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from acie.errors import AcieError, InputValidationError

app = typer.Typer(help="Local accounts: add, list, disable.", no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option("--url", help="Database URL (default: settings).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _engine(url: str | None) -> Any:
    from acie.config import get_settings
    from acie.store.database import create_engine_for, migrate

    url = url or get_settings().database_url
    engine = create_engine_for(url)
    migrate(url, engine=engine)
    return engine


def _fail(exc: AcieError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            lines = password_file.read_text().splitlines()
        except OSError as exc:
            raise InputValidationError(
                f"--password-file {str(password_file)!r} cannot be read: {exc.strerror}"
            ) from None
        if not lines:
            raise InputValidationError(
                f"--password-file {str(password_file)!r} must hold the password; it is empty"
            )
        return lines[0]
    env = os.environ.get("ACIE_NEW_PASSWORD")
    if env:
        return env
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="User name (the session's subject).")],
    role: Annotated[
        str, typer.Option("--role", help="researcher, collaborator or admin.")
    ] = "researcher",
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="File whose first line is the password."),
    ] = None,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a local account (password hashed with argon2id)."""
    from acie.store.users import add_user

    try:
        info = add_user(_engine(url), username, _password(password_file), role)
    except AcieError as exc:
        _fail(exc)
        return
    data = info.as_dict()
    typer.echo(
        json.dumps(data, sort_keys=True) if as_json else f"user {username} added (role {role})"
    )


@app.command("list")
def list_(url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """List the users: name, role, state."""
    from acie.store.users import list_users

    try:
        users = list_users(_engine(url))
    except AcieError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps({"users": [u.as_dict() for u in users]}, sort_keys=True))
        return
    for u in users:
        state = "disabled" if u.disabled else "active"
        typer.echo(f"{u.username}\t{u.role or '-'}\t{state}")


@app.command("disable")
def disable(
    username: Annotated[str, typer.Argument(help="User name.")],
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Disable an account: it can no longer sign in and its sessions stop working."""
    from acie.store.users import disable_user

    try:
        info = disable_user(_engine(url), username)
    except AcieError as exc:
        _fail(exc)
        return
    typer.echo(
        json.dumps(info.as_dict(), sort_keys=True) if as_json else f"user {username} disabled"
    )
