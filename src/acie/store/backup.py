"""Backups and restores of the whole database, for both backends.

* SQLite: SQLite's online backup API (a consistent snapshot even while writers are
  active, WAL included) into a temporary file that is integrity-checked and then
  renamed into place.
* PostgreSQL: ``pg_dump --format=custom`` into a temporary file, renamed into place;
  restore with ``pg_restore --clean --if-exists --single-transaction``.

A restore ends by verifying the audit chain (optionally against an exported head), so
a restored database that does not hold an intact log is reported at once.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from acie.errors import BackendUnavailableError, DataFormatError, StoreError
from acie.store.audit import AuditHead, AuditLog, VerifyResult
from acie.store.database import Backend, backend_of, create_engine_for, libpq_url

__all__ = ["BackupInfo", "RestoreInfo", "backup", "restore"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PGDUMP_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class BackupInfo:
    """What :func:`backup` wrote."""

    backend: str
    path: str
    bytes: int
    seconds: float
    audit_head: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (size in bytes, duration in seconds)."""
        return asdict(self)


@dataclass(frozen=True)
class RestoreInfo:
    """What :func:`restore` did, with the audit verification of the restored database."""

    backend: str
    path: str
    seconds: float
    audit: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (duration in seconds, audit verification result)."""
        return asdict(self)


def _sqlite_path(url: str) -> Path:
    db = make_url(url).database
    if not db or db == ":memory:":
        raise DataFormatError(f"a SQLite backup needs a database file; got URL {url!r}")
    return Path(db)


def _tmp_beside(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackendUnavailableError(f"{name} is not on PATH: install postgresql-client")
    return found


def backup(url: str, dest: str | os.PathLike[str]) -> BackupInfo:
    """Write a backup of the database at ``url`` to ``dest`` (atomically).

    Returns
    -------
    BackupInfo
        Including the audit head at backup time, worth keeping as an anchor.
    """
    dest = Path(dest)
    backend = backend_of(url)
    t0 = time.perf_counter()
    tmp = _tmp_beside(dest)
    try:
        if backend is Backend.sqlite:
            src_path = _sqlite_path(url)
            if not src_path.is_file():
                raise DataFormatError(f"SQLite database {str(src_path)!r} does not exist")
            src = sqlite3.connect(src_path, timeout=30)
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                dst.close()
                src.close()
            if ok != "ok":
                raise StoreError(f"the SQLite backup failed its integrity check: {ok}")
        else:
            proc = subprocess.run(
                [
                    _tool("pg_dump"),
                    "--format=custom",
                    "--no-password",
                    f"--file={tmp}",
                    libpq_url(url),
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise BackendUnavailableError(f"pg_dump failed: {proc.stderr.strip()}")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    engine = create_engine_for(url)
    try:
        head = AuditLog(engine).head()
    finally:
        engine.dispose()
    return BackupInfo(
        backend.value, str(dest), dest.stat().st_size, time.perf_counter() - t0, asdict(head)
    )


def _check_format(src: Path, backend: Backend) -> None:
    try:
        with src.open("rb") as fh:
            magic = fh.read(16)
    except OSError as err:
        raise DataFormatError(f"backup file {str(src)!r} cannot be read: {err}") from err
    expected = _SQLITE_MAGIC if backend is Backend.sqlite else _PGDUMP_MAGIC
    if not magic.startswith(expected):
        kind = "a SQLite database" if backend is Backend.sqlite else "a pg_dump custom archive"
        raise DataFormatError(
            f"restoring into {backend.value} needs {kind}; {str(src)!r} starts with {magic[:8]!r}"
        )


def restore(
    url: str,
    src: str | os.PathLike[str],
    *,
    anchor: AuditHead | str | os.PathLike[str] | None = None,
    verify: bool = True,
) -> RestoreInfo:
    """Replace the database at ``url`` with the backup ``src``, then verify the audit log.

    Raises
    ------
    DataFormatError
        ``src`` is not a backup of this backend's kind.
    AuditIntegrityError
        The restored audit log fails verification (``.row`` names the first bad row).
    """
    src = Path(src)
    backend = backend_of(url)
    _check_format(src, backend)
    t0 = time.perf_counter()
    if backend is Backend.sqlite:
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        s = sqlite3.connect(src)
        try:
            ok = s.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise DataFormatError(f"backup {str(src)!r} fails SQLite's integrity check: {ok}")
            t = sqlite3.connect(target, timeout=30)
            try:
                s.backup(t)  # page-by-page copy under the target's write lock
                t.execute("PRAGMA journal_mode = WAL")
            finally:
                t.close()
        finally:
            s.close()
    else:
        proc = subprocess.run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--single-transaction",
                "--no-owner",
                "--no-password",
                f"--dbname={libpq_url(url)}",
                str(src),
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise StoreError(f"pg_restore failed: {proc.stderr.strip()}")
    result: VerifyResult | None = None
    if verify:
        engine = create_engine_for(url)
        try:
            result = AuditLog(engine).verify(anchor=anchor)
        finally:
            engine.dispose()
    return RestoreInfo(
        backend.value,
        str(src),
        time.perf_counter() - t0,
        result.as_dict() if result is not None else {},
    )
