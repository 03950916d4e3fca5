"""`acie admin` point-in-time recovery of PostgreSQL: base backups, WAL archive settings, restore.

Registered on the ``acie admin`` app by :mod:`acie.cli.admin`; see :mod:`acie.store.pitr`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

UrlOpt = Annotated[str | None, typer.Option("--url", help="Database URL (default: settings).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _url(url: str | None) -> str:
    if url:
        return url
    from acie.config import get_settings

    return get_settings().database_url


def _emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, default=str, sort_keys=True) if as_json else text)


def restore_to_time(
    base: Path,
    to_time: str,
    wal_archive: Path | None,
    data_dir: Path | None,
    anchor: Path | None,
    key: Any,
    as_json: bool,
) -> None:
    from datetime import datetime

    from acie.errors import InputValidationError
    from acie.store.anchors import read_anchor
    from acie.store.pitr import restore_to_time as run_restore_to_time

    if wal_archive is None or data_dir is None:
        raise InputValidationError("--to-time needs --wal-archive and --data-dir")
    try:
        when = datetime.fromisoformat(to_time)
    except ValueError:
        raise InputValidationError(
            f"--to-time must be ISO 8601 with a timezone, e.g. 2026-12-06T21:00:00Z; got {to_time!r}"
        ) from None
    head = read_anchor(anchor, public_key=key) if anchor is not None else None
    info = run_restore_to_time(
        base_backup_dir=base,
        wal_archive=wal_archive,
        data_dir=data_dir,
        target_time=when,
        anchor=head,
    )
    rows = {db: r["rows"] for db, r in info.audit.items()}
    _emit(
        info.as_dict(),
        as_json,
        f"cluster {info.data_dir} recovered to {info.target_time} ({info.seconds:.1f} s); "
        f"audit logs intact: {rows}; the previous data directory is kept at "
        f"{info.previous_data_dir}; start the server",
    )


def base_backup(
    dest: Annotated[Path, typer.Argument(help="New folder for the base backup.")],
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """PostgreSQL base backup (pg_basebackup) for point-in-time recovery."""
    from acie.store.pitr import base_backup as run_base_backup

    path = run_base_backup(_url(url), dest)
    _emit({"path": str(path)}, as_json, f"base backup written to {path}")


def wal_archive_config(
    archive: Annotated[Path, typer.Argument(help="Folder WAL segments are archived to.")],
    archive_timeout: Annotated[
        int, typer.Option(help="Seconds before a segment with writes is archived (the RPO).")
    ] = 60,
) -> None:
    """Print the postgresql.conf lines that archive WAL for point-in-time recovery."""
    from acie.store.pitr import archive_settings

    for name, value in archive_settings(archive, archive_timeout_s=archive_timeout).items():
        typer.echo(f"{name} = {value}")
