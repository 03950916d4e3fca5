"""Backups and restores of the whole database, for both backends.

* SQLite: SQLite's online backup API (a consistent snapshot even while writers are
  active, WAL included) into a temporary file that is integrity-checked and then
  renamed into place.
* PostgreSQL: ``pg_dump --format=custom`` into a temporary file, renamed into place.

A restore never touches the live database first: the backup is restored into a
temporary copy (a file beside the SQLite database; a new PostgreSQL database), brought to
the newest schema and its audit chain verified (optionally against a signed anchor), and
only then swapped in — SQLite in one write transaction, PostgreSQL by renaming the two
databases in one transaction. On any failure the live database keeps every row.
"""

from __future__ import annotations

import os
import secrets
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
from acie.store.database import Backend, backend_of, create_engine_for, libpq_url, migrate

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
    try:
        tmp = _tmp_beside(dest)
    except OSError as err:
        raise StoreError(
            f"a backup needs a writable directory for {str(dest)!r}; got: {err.strerror or err}"
        ) from err
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
                pg_message = proc.stderr.strip()
                kind = BackendUnavailableError if "connection" in pg_message.lower() else StoreError
                raise kind(f"pg_dump failed, nothing was written: {pg_message}")
        os.replace(tmp, dest)
    except (OSError, sqlite3.Error) as err:
        tmp.unlink(missing_ok=True)
        raise StoreError(
            f"writing the backup {str(dest)!r} failed, nothing was written: {err}"
        ) from err
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


def _anchor_head(
    anchor: AuditHead | str | os.PathLike[str] | None, public_key: Any | None
) -> AuditHead | None:
    if anchor is None or isinstance(anchor, AuditHead):
        if public_key is not None and anchor is not None:
            raise DataFormatError("a signature can be checked only on an anchor file")
        return anchor
    from acie.store.anchors import read_anchor

    return read_anchor(anchor, public_key=public_key)


def _verify_copy(url: str, head: AuditHead | None, verify: bool) -> VerifyResult | None:
    """Bring the copy to the newest schema, then verify its chain against ``head``."""
    engine = create_engine_for(url)
    try:
        result = AuditLog(engine).verify(anchor=head) if verify else None
    finally:
        engine.dispose()
    migrate(url)
    return result


def _restore_sqlite(
    url: str, src: Path, head: AuditHead | None, verify: bool
) -> VerifyResult | None:
    target = _sqlite_path(url)
    copy = _tmp_beside(target)
    try:
        try:
            s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
            try:
                ok = s.execute("PRAGMA integrity_check").fetchone()[0]
                if ok != "ok":
                    raise DataFormatError(
                        f"backup {str(src)!r} fails SQLite's integrity check: {ok}"
                    )
                c = sqlite3.connect(copy)
                try:
                    s.backup(c)
                finally:
                    c.close()
            finally:
                s.close()
        except sqlite3.DatabaseError as err:
            raise DataFormatError(
                f"backup {str(src)!r} is not a readable SQLite database: {err}"
            ) from err
        result = _verify_copy(f"sqlite:///{copy}", head, verify)
        # the swap: one page-by-page copy in one write transaction of the live database,
        # so a crash or error leaves it as it was (SQLite's journal rolls it back)
        c = sqlite3.connect(copy)
        t = sqlite3.connect(target, timeout=30)
        try:
            c.backup(t)
            t.execute("PRAGMA journal_mode = WAL")
        finally:
            t.close()
            c.close()
        return result
    finally:
        for p in (copy, copy.with_name(copy.name + "-wal"), copy.with_name(copy.name + "-shm")):
            p.unlink(missing_ok=True)


def _pg_admin(url: str) -> Any:
    import psycopg

    admin = make_url(url).set(database="postgres")
    return psycopg.connect(libpq_url(admin), autocommit=True, connect_timeout=5)


def _restore_postgres(
    url: str, src: Path, head: AuditHead | None, verify: bool
) -> VerifyResult | None:
    from psycopg import errors as pg_errors
    from psycopg import sql

    live = make_url(url).database
    if not live:
        raise DataFormatError(f"a PostgreSQL restore needs a database name in the URL; got {url!r}")
    copy_name = f"{live[:40]}_restore_{secrets.token_hex(4)}"
    copy_url = make_url(url).set(database=copy_name).render_as_string(hide_password=False)
    with _pg_admin(url) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(copy_name))
        )
    swapped = False
    try:
        proc = subprocess.run(
            [
                _tool("pg_restore"),
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-password",
                f"--dbname={libpq_url(copy_url)}",
                str(src),
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise DataFormatError(
                f"pg_restore of {str(src)!r} failed, the live database is unchanged: {why}"
            )
        result = _verify_copy(copy_url, head, verify)
        old_name = f"{live[:40]}_old_{secrets.token_hex(4)}"
        with _pg_admin(url) as admin:
            for _ in range(100):
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (live,),
                )
                try:
                    with admin.transaction():  # both renames or neither
                        admin.execute(
                            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                                sql.Identifier(live), sql.Identifier(old_name)
                            )
                        )
                        admin.execute(
                            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                                sql.Identifier(copy_name), sql.Identifier(live)
                            )
                        )
                    swapped = True
                    break
                except pg_errors.ObjectInUse:
                    time.sleep(0.05)
            if not swapped:
                raise BackendUnavailableError(
                    f"database {live!r} kept being used by other sessions; nothing was restored"
                )
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(old_name))
            )
        return result
    finally:
        if not swapped:
            with _pg_admin(url) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(copy_name)
                    )
                )


def restore(
    url: str,
    src: str | os.PathLike[str],
    *,
    anchor: AuditHead | str | os.PathLike[str] | None = None,
    public_key: Any | None = None,
    verify: bool = True,
) -> RestoreInfo:
    """Replace the database at ``url`` with the backup ``src`` once the backup has verified.

    The backup is restored into a temporary copy (a file beside the SQLite database; a
    new PostgreSQL database), brought to the newest schema and its audit chain verified,
    against ``anchor`` if given (with ``public_key`` the anchor's Ed25519 signature must
    verify too). Only then is the copy swapped in: SQLite copies it into the live file in
    one write transaction; PostgreSQL renames the two databases in one transaction
    (sessions on the live database are ended first). On any failure the live database is
    untouched and the copy removed.

    Raises
    ------
    DataFormatError
        ``src`` is not a (readable, complete) backup of this backend's kind.
    AuditIntegrityError
        The backup's audit log fails verification (``.row`` names the first bad row), or
        the anchor's signature does not verify.
    """
    src = Path(src)
    backend = backend_of(url)
    _check_format(src, backend)
    head = _anchor_head(anchor, public_key)
    t0 = time.perf_counter()
    if backend is Backend.sqlite:
        result = _restore_sqlite(url, src, head, verify)
    else:
        result = _restore_postgres(url, src, head, verify)
    return RestoreInfo(
        backend.value,
        str(src),
        time.perf_counter() - t0,
        result.as_dict() if result is not None else {},
    )
