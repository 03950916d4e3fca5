"""A private PostgreSQL cluster for fault and recovery tests: initdb, start, kill -9, stop.

The cluster lives in a fresh folder under the system temporary directory, owned by the
``postgres`` user when the tests run as root (PostgreSQL refuses to run as root), with its
own port and Unix socket, so killing it never touches the shared test server.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from acie.store.pitr import _as_owner, _chown_tree, _free_port, archive_settings, pg_binary


def _owner() -> str:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("tests run as root need the postgres user to own a private cluster")
    return "postgres"


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc; no procps needed)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


class OwnCluster:
    """One private PostgreSQL cluster (``root/data``), optionally archiving WAL."""

    def __init__(self, *, archive: bool = False, archive_timeout_s: int = 1) -> None:
        self.owner = _owner()
        self.root = Path(tempfile.mkdtemp(prefix="acie-pg-"))
        os.chmod(self.root, 0o755)
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.sock.mkdir()
        self.archive = self.root / "wal-archive" if archive else None
        if self.archive is not None:
            self.archive.mkdir()
        _chown_tree(self.root, self.owner)
        self.port = _free_port()
        self._run(
            pg_binary("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--wal-segsize=1",  # 1 MiB segments: archiving tests stay small
            "--no-sync",  # the initial files; the server itself runs with fsync on
            "-E",
            "UTF8",
        )
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.sock}'",
            "fsync": "on",
            "max_connections": "30",
            "shared_buffers": "16MB",
        }
        if self.archive is not None:
            settings |= archive_settings(self.archive, archive_timeout_s=archive_timeout_s)
        with open(self.data / "postgresql.conf", "a") as fh:
            fh.write("\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(_as_owner(self.owner, list(args)), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def start(self) -> None:
        log = self.root / "server.log"
        self._run(
            pg_binary("pg_ctl", self.data), "start", "-D", str(self.data), "-w", "-l", str(log)
        )

    def stop(self) -> None:
        subprocess.run(
            _as_owner(
                self.owner,
                [pg_binary("pg_ctl", self.data), "stop", "-D", str(self.data), "-m", "fast"],
            ),
            capture_output=True,
        )

    def kill9(self) -> None:
        """SIGKILL the postmaster and every backend (a power cut, as far as they know)."""
        pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        subprocess.run(
            _as_owner(
                self.owner,
                [pg_binary("pg_ctl", self.data), "stop", "-D", str(self.data), "-m", "immediate"],
            ),
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)
