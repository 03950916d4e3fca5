"""Point-in-time recovery of PostgreSQL: WAL archiving, base backups, restore to a time.

* **Archiving** (:func:`archive_settings`): ``wal_level=replica``, ``archive_mode=on``
  and an ``archive_command`` that copies each finished WAL segment into an archive folder
  (write to a temporary name, fsync, rename; an existing file is never overwritten).
  ``archive_timeout`` forces a segment switch after that many seconds with writes, so a
  commit reaches the archive within ``archive_timeout`` plus the copy: that bound is the
  recovery point objective (RPO). The default, 60 s, keeps it well under 5 minutes.
* **Base backup** (:func:`base_backup`): ``pg_basebackup`` of the whole cluster as a
  plain data directory, with the WAL needed to make it consistent.
* **Restore to a time** (:func:`restore_to_time`): the base backup is copied beside the
  cluster's data directory, started there as a private server (its own port, no TCP, no
  archiving) that replays archived WAL up to ``recovery_target_time`` and is promoted; the
  audit log of every database in it is verified (chain, optionally a signed anchor).
  Only then is the live data directory renamed aside (kept, never deleted) and the
  recovered one renamed into its place. The cluster must be stopped for the swap.

Server binaries are found on ``PATH`` or under ``/usr/lib/postgresql/<major>/bin`` (the
data directory's major version first, else the newest installed), never a fixed version.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from acie.errors import BackendUnavailableError, DataFormatError, InputValidationError, StoreError
from acie.store.audit import AuditHead, AuditLog
from acie.store.database import create_engine_for, libpq_url

__all__ = [
    "DEFAULT_ARCHIVE_TIMEOUT_S",
    "PitrInfo",
    "archive_settings",
    "base_backup",
    "pg_binary",
    "restore_to_time",
]

#: seconds after which a WAL segment with writes is switched and archived (the RPO bound)
DEFAULT_ARCHIVE_TIMEOUT_S = 60


def pg_binary(name: str, data_dir: str | os.PathLike[str] | None = None) -> str:
    """Path of the PostgreSQL program ``name`` (matching ``data_dir``'s major version)."""
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0,
        reverse=True,
    )
    if data_dir is not None and (Path(data_dir) / "PG_VERSION").is_file():
        major = (Path(data_dir) / "PG_VERSION").read_text().strip()
        dirs = [d for d in dirs if Path(d).parent.name == major] + dirs
    for d in dirs:
        candidate = Path(d) / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BackendUnavailableError(
            f"{name} is neither under /usr/lib/postgresql/<major>/bin nor on PATH: "
            f"install the PostgreSQL server package"
        )
    return found


def archive_settings(
    wal_archive: str | os.PathLike[str], *, archive_timeout_s: int = DEFAULT_ARCHIVE_TIMEOUT_S
) -> dict[str, str]:
    """The ``postgresql.conf`` settings that archive every WAL segment into ``wal_archive``."""
    if not 1 <= archive_timeout_s <= 300:
        raise InputValidationError(
            f"archive_timeout_s must be 1..300 s (the RPO promise is 5 minutes); "
            f"got {archive_timeout_s}"
        )
    d = str(Path(wal_archive).resolve())
    if "'" in d or " " in d:
        raise InputValidationError(
            f"the WAL archive path must not hold quotes or spaces; got {d!r}"
        )
    command = f"test ! -f {d}/%f && cp %p {d}/%f.part && sync {d}/%f.part && mv {d}/%f.part {d}/%f"
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": f"'{command}'",
        "archive_timeout": str(archive_timeout_s),
    }


def base_backup(url: str, dest: str | os.PathLike[str], *, sync: bool = True) -> Path:
    """``pg_basebackup`` of the cluster behind ``url`` into the new directory ``dest``.

    ``sync=False`` skips fsyncing the copy (tests; a backup must survive power loss).
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise DataFormatError(f"base backup folder {str(dest)!r} must be new or empty")
    proc = subprocess.run(
        [
            pg_binary("pg_basebackup"),
            f"--dbname={libpq_url(url)}",
            f"--pgdata={dest}",
            "--format=plain",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-password",
            *([] if sync else ["--no-sync"]),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        raise BackendUnavailableError(f"pg_basebackup failed: {proc.stderr.strip()}")
    return dest


@dataclass(frozen=True)
class PitrInfo:
    """What :func:`restore_to_time` did."""

    data_dir: str
    previous_data_dir: str
    target_time: str
    seconds: float
    audit: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (duration in seconds; audit result per database)."""
        return asdict(self)


def _as_owner(owner: str, args: list[str]) -> list[str]:
    if os.geteuid() == 0 and owner != "root":
        return [shutil.which("runuser") or "runuser", "-u", owner, "--", *args]
    return args


def _chown_tree(root: Path, owner: str) -> None:
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam(owner)
    for dirpath, _, files in os.walk(root):
        os.chown(dirpath, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(dirpath, f), pw.pw_uid, pw.pw_gid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _running(data_dir: Path, owner: str) -> bool:
    proc = subprocess.run(
        _as_owner(owner, [pg_binary("pg_ctl", data_dir), "status", "-D", str(data_dir)]),
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0


def _log_tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    except OSError:
        return "(no server log)"


def _verify_cluster(
    staging: Path, sock: Path, port: int, owner: str, anchor: AuditHead | None, deadline: float
) -> dict[str, Any]:
    import psycopg

    conninfo = f"host={sock} port={port} user={owner} dbname=postgres"
    while True:  # promotion ends recovery; until then the server is read-only
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as c:
                if not c.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
                    names = [
                        r[0]
                        for r in c.execute(
                            "SELECT datname FROM pg_database WHERE NOT datistemplate"
                        ).fetchall()
                    ]
                    break
        except psycopg.OperationalError:
            pass
        if not (staging / "postmaster.pid").exists():  # recovery stopped the server
            raise StoreError(f"recovery failed: {_log_tail(sock / 'recovery.log')}")
        if time.monotonic() > deadline:
            raise StoreError("the recovered server did not finish recovery in time")
        time.sleep(0.2)
    results: dict[str, Any] = {}
    for name in names:
        url = f"postgresql+psycopg://{owner}@/{name}?host={sock}&port={port}"
        engine = create_engine_for(url)
        try:
            with engine.connect() as conn:
                has_log = conn.exec_driver_sql(
                    "SELECT to_regclass('inference_logs') IS NOT NULL"
                ).scalar_one()
            if has_log:
                results[name] = AuditLog(engine).verify(anchor=anchor).as_dict()
        finally:
            engine.dispose()
    return results


def restore_to_time(
    *,
    base_backup_dir: str | os.PathLike[str],
    wal_archive: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    target_time: datetime,
    anchor: AuditHead | None = None,
    timeout_s: float = 300.0,
) -> PitrInfo:
    """Recover the cluster in ``data_dir`` to ``target_time`` from a base backup and WAL.

    Parameters
    ----------
    base_backup_dir : path
        A plain base backup (:func:`base_backup`) taken *before* ``target_time``.
    wal_archive : path
        The folder ``archive_command`` copies WAL segments to.
    data_dir : path
        The cluster's data directory; the server must be stopped. It is renamed to
        ``<data_dir>.before-pitr-<time>`` (kept) once the recovered copy has verified.
    target_time : datetime
        Timezone-aware. Transactions committed up to it are recovered, later ones not.
    anchor : AuditHead, optional
        Every recovered audit log must still contain this head.

    Raises
    ------
    InputValidationError
        ``target_time`` has no timezone, or the server is running.
    StoreError
        Recovery failed (e.g. the WAL does not reach ``target_time``); nothing was changed.
    AuditIntegrityError
        A recovered audit log fails verification; nothing was changed.
    """
    if target_time.tzinfo is None or target_time.utcoffset() is None:
        raise InputValidationError(
            f"--to-time must carry a timezone (e.g. 2026-12-06T21:00:00Z); got {target_time!r}"
        )
    base, archive, live = Path(base_backup_dir), Path(wal_archive), Path(data_dir)
    for p, what in ((base, "base backup"), (archive, "WAL archive"), (live, "data directory")):
        if not p.is_dir():
            raise DataFormatError(f"the {what} {str(p)!r} must be an existing folder")
    if not (base / "PG_VERSION").is_file():
        raise DataFormatError(f"{str(base)!r} is not a base backup (it has no PG_VERSION)")
    owner = pwd.getpwuid(live.stat().st_uid).pw_name
    if _running(live, owner):
        raise InputValidationError(
            f"the server on {str(live)!r} is running; stop it before a point-in-time restore"
        )
    t0 = time.perf_counter()
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    staging = live.with_name(f"{live.name}.pitr-{stamp}")
    shutil.copytree(base, staging, symlinks=True)
    (staging / "recovery.signal").touch()
    sock = Path(tempfile.mkdtemp(prefix="acie-pitr-"))
    conf = staging / "postgresql.auto.conf"
    original_conf = conf.read_text() if conf.exists() else ""
    restore_cmd = f"cp {archive.resolve()}/%f %p"
    conf.write_text(
        original_conf
        + "\n# acie point-in-time recovery (removed after the restore)\n"
        + f"restore_command = '{restore_cmd}'\n"
        + f"recovery_target_time = '{target_time.isoformat()}'\n"
        + "recovery_target_action = 'promote'\n"
    )
    for f in ("postmaster.pid", "postmaster.opts"):
        (staging / f).unlink(missing_ok=True)
    os.chmod(staging, 0o700)
    _chown_tree(staging, owner)
    _chown_tree(sock, owner)
    log = sock / "recovery.log"
    port = _free_port()
    pg_ctl = pg_binary("pg_ctl", staging)
    options = (
        f"-p {port} -c listen_addresses='' -c unix_socket_directories='{sock}' -c archive_mode=off"
    )
    swapped = False
    try:
        start = subprocess.run(
            _as_owner(
                owner,
                [
                    pg_ctl,
                    "start",
                    "-D",
                    str(staging),
                    "-w",
                    "-t",
                    str(int(timeout_s)),
                    "-l",
                    str(log),
                    "-o",
                    options,
                ],
            ),
            capture_output=True,
            text=True,
        )
        if start.returncode != 0:
            raise StoreError(f"recovery to {target_time.isoformat()} failed: {_log_tail(log)}")
        try:
            audit = _verify_cluster(
                staging, sock, port, owner, anchor, time.monotonic() + timeout_s
            )
        finally:
            subprocess.run(
                _as_owner(owner, [pg_ctl, "stop", "-D", str(staging), "-m", "fast", "-w"]),
                capture_output=True,
            )
        conf.write_text(original_conf)  # the recovery settings must not outlive the restore
        (staging / "recovery.signal").unlink(missing_ok=True)
        previous = live.with_name(f"{live.name}.before-pitr-{stamp}")
        os.rename(live, previous)
        os.rename(staging, live)
        swapped = True
    finally:
        shutil.rmtree(sock, ignore_errors=True)
        if not swapped:
            shutil.rmtree(staging, ignore_errors=True)
    return PitrInfo(
        str(live), str(previous), target_time.isoformat(), time.perf_counter() - t0, audit
    )
