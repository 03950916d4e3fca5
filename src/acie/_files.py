"""Writing user-facing output files (plots, tables, datasets) atomically, with one mode.

Every output file ACIE writes for a user goes through :func:`atomic_output`: the data is
written to a hidden temporary file beside the target and renamed onto it only when the
writer finished, so a reader never sees half a file and an interrupted run leaves the
old file in place. The temporary file is created the way ``open(path, "w")`` creates a
file, mode ``0o666`` reduced by the process umask (``0o644`` under the usual umask
``022``), so every output file gets the same mode whichever library wrote it. (Python's
``tempfile.mkstemp`` creates ``0o600`` files, which a rename would carry over.)

Secrets are not output files: key files and the JWT secret keep their ``0o600`` writers
(``acie.privacy.keyfile``, ``acie.serve.auth``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output", "write_bytes", "write_text"]

_ATTEMPTS = 100


def _create_temp(path: Path) -> Path:
    """A new empty file beside ``path``, named ``.<random>.<name>``, mode ``0o666 & ~umask``.

    The name keeps the target's whole name at its end, so libraries that infer the format
    from the suffix (matplotlib, pandas' compression) see the target's suffix.
    """
    for _ in range(_ATTEMPTS):
        tmp = path.with_name(f".{secrets.token_hex(4)}.{path.name}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name beside {path} after {_ATTEMPTS} tries")


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    Parameters
    ----------
    path
        The output file. Missing parent folders are created.

    Yields
    ------
    pathlib.Path
        An existing empty file beside ``path`` (mode ``0o666`` less the umask) for the
        writer to overwrite or truncate, e.g. ``fig.savefig(tmp)`` or
        ``h5py.File(tmp, "w")``.

    Notes
    -----
    If the block raises, the temporary file is removed and ``path`` is left as it was.
    A writer that deletes and re-creates the file (instead of truncating it) still gets
    the umask's mode, as any newly created file does.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`); returns the path."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_versioned(path: str | os.PathLike[str], data: bytes) -> str:
    """Write ``data`` to ``path`` atomically and fsynced; returns its SHA-256 (hex).

    For model and table files whose version is the SHA-256 of their bytes: the file is
    complete on disk before it replaces ``path``, and the returned version is of exactly
    those bytes.
    """
    with atomic_output(path) as tmp, tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return hashlib.sha256(data).hexdigest()


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_output`); returns the path."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)
