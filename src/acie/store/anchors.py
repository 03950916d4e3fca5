"""Signed audit-head anchors: the newest row's hash, signed with Ed25519, kept outside the database.

An anchor file is one JSON object::

    {"exported_at": "2026-12-06T21:00:00.000000Z", "key_id": "3f1c…", "row_hash": "…",
     "seq": 1234, "signature": "<base64 Ed25519 signature>"}

The signature covers the canonical JSON (sorted keys, no spaces) of every field but
``signature``. Whoever holds only the database (or only the anchor directory) cannot make
an anchor that verifies without the private key: a rewritten log no longer matches the
anchor, and a rewritten anchor no longer matches its signature.

Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public) made by
:func:`generate_key` (``acie admin anchor-keygen``); the settings name them
(``AUDIT_ANCHOR_KEY_FILE``, ``AUDIT_ANCHOR_PUBLIC_KEY_FILE``), code never holds one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acie.errors import AuditIntegrityError, DataFormatError, StoreError
from acie.store.audit import AuditHead, AuditLog

__all__ = [
    "AnchorExporter",
    "anchor_exporter",
    "anchor_public_key",
    "export_anchor",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "read_anchor",
    "write_atomically",
]


def _crypto() -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return serialization, ed25519


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a fsynced temporary file and a rename.

    Raises
    ------
    StoreError
        The folder cannot be written (missing, read-only, full); ``path`` is unchanged.
    """
    try:
        _write_atomically(path, data, mode)
    except OSError as err:
        raise StoreError(
            f"writing {str(path)!r} failed, it is unchanged: {err.strerror or err}"
        ) from err


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def generate_key(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a new Ed25519 private key to ``path`` (mode 0600) and its public key beside it.

    Returns
    -------
    (Path, Path)
        The private key file and the public key file (``<path>.pub``).

    Raises
    ------
    DataFormatError
        ``path`` exists already (a key is never overwritten).
    """
    serialization, ed25519 = _crypto()
    priv_path = Path(path)
    pub_path = priv_path.with_name(priv_path.name + ".pub")
    for p in (priv_path, pub_path):
        if p.exists():
            raise DataFormatError(f"key file {str(p)!r} exists already; expected a new path")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_atomically(priv_path, pem, mode=0o600)
    write_atomically(pub_path, pub)
    return priv_path, pub_path


def _read_key_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise DataFormatError(f"key file {str(path)!r} cannot be read: {err}") from err


def load_private_key(path: str | os.PathLike[str]) -> Any:
    """The Ed25519 private key in the PEM file ``path`` (unencrypted PKCS#8)."""
    serialization, ed25519 = _crypto()
    try:
        key = serialization.load_pem_private_key(_read_key_bytes(path), password=None)
    except (ValueError, TypeError) as err:
        raise DataFormatError(
            f"key file {str(path)!r} must hold an unencrypted Ed25519 private key (PEM); "
            f"reading it failed: {err}"
        ) from err
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise DataFormatError(
            f"key file {str(path)!r} must hold an Ed25519 key; got {type(key).__name__}"
        )
    return key


def load_public_key(path: str | os.PathLike[str]) -> Any:
    """The Ed25519 public key in ``path``: a public key PEM, or derived from a private one."""
    serialization, ed25519 = _crypto()
    data = _read_key_bytes(path)
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise DataFormatError(
            f"key file {str(path)!r} must hold an Ed25519 public key (PEM); "
            f"reading it failed: {err}"
        ) from err
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise DataFormatError(
            f"key file {str(path)!r} must hold an Ed25519 key; got {type(key).__name__}"
        )
    return key


def key_id(public_key: Any) -> str:
    """A short name of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    serialization, _ = _crypto()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _signed_bytes(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def export_anchor(
    log: AuditLog, path: str | os.PathLike[str], *, private_key: Any | None = None
) -> AuditHead:
    """Write the log's head to ``path`` atomically, signed when ``private_key`` is given."""
    head = log.head()
    doc: dict[str, Any] = {
        "seq": head.seq,
        "row_hash": head.row_hash,
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    if private_key is not None:
        doc["key_id"] = key_id(private_key.public_key())
        doc["signature"] = base64.b64encode(private_key.sign(_signed_bytes(doc))).decode()
    write_atomically(Path(path), (json.dumps(doc, sort_keys=True) + "\n").encode())
    return head


def read_anchor(path: str | os.PathLike[str], *, public_key: Any | None = None) -> AuditHead:
    """Read an anchor file; with ``public_key`` its signature must be present and valid.

    Raises
    ------
    DataFormatError
        The file is missing, truncated or not an anchor.
    AuditIntegrityError
        A public key was given and the anchor is unsigned, signed by another key, or its
        signed fields were changed.
    """
    head = AuditHead.read(path)  # the format checks (seq, 64-digit hash)
    if public_key is None:
        return head
    from cryptography.exceptions import InvalidSignature

    doc = json.loads(Path(path).read_text())
    signature = doc.get("signature")
    if not isinstance(signature, str):
        raise AuditIntegrityError(
            f"audit anchor {str(path)!r} is unsigned; a signed anchor was expected "
            f"(key {key_id(public_key)})",
            row=head.seq,
        )
    try:
        public_key.verify(base64.b64decode(signature, validate=True), _signed_bytes(doc))
    except (InvalidSignature, ValueError) as err:
        raise AuditIntegrityError(
            f"audit anchor {str(path)!r}: the signature does not verify with key "
            f"{key_id(public_key)} (signed by {doc.get('key_id')!r}; the anchor was altered "
            f"or signed by another key)",
            row=head.seq,
        ) from err
    return head


class AnchorExporter:
    """Export the signed head every ``interval_s`` seconds on a thread, and once at :meth:`stop`.

    Parameters
    ----------
    log : AuditLog
    path : path-like
        The anchor file (replaced atomically at each export).
    private_key : Ed25519PrivateKey or None
        Signs each anchor (``None``: unsigned anchors).
    interval_s : float [s]
    """

    def __init__(
        self,
        log: AuditLog,
        path: str | os.PathLike[str],
        *,
        private_key: Any | None = None,
        interval_s: float = 60.0,
    ) -> None:
        import threading

        if interval_s <= 0:
            raise DataFormatError(f"interval_s must be > 0 seconds; got {interval_s!r}")
        self.log, self.path, self.private_key = log, Path(path), private_key
        self.interval_s = interval_s
        self.exports = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-anchor", daemon=True)

    def export(self) -> AuditHead | None:
        """Export now; a failure is kept in :attr:`last_error` and logged, not raised."""
        import logging

        try:
            head = export_anchor(self.log, self.path, private_key=self.private_key)
        except Exception as err:  # the server keeps serving; the next export retries
            self.last_error = str(err)
            logging.getLogger(__name__).error(
                "audit anchor export to %s failed: %s", self.path, err
            )
            return None
        self.exports += 1
        self.last_error = None
        return head

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.export()

    def start(self) -> None:
        """Export once, then every ``interval_s`` on a daemon thread."""
        self.export()
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and export a last time (the head at shutdown)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.export()


def anchor_exporter(settings: Any, log: AuditLog) -> AnchorExporter | None:
    """The exporter the settings ask for (``AUDIT_ANCHOR_FILE``), or ``None`` when unset."""
    if settings.AUDIT_ANCHOR_FILE is None:
        return None
    key = None
    if settings.AUDIT_ANCHOR_KEY_FILE is not None:
        key = load_private_key(settings.AUDIT_ANCHOR_KEY_FILE)
    return AnchorExporter(
        log,
        settings.AUDIT_ANCHOR_FILE,
        private_key=key,
        interval_s=settings.AUDIT_ANCHOR_INTERVAL_S,
    )


def anchor_public_key(settings: Any, path: str | os.PathLike[str] | None = None) -> Any | None:
    """The key anchors must be signed with: ``path``, else the settings' public or private key."""
    if path is not None:
        return load_public_key(path)
    if settings.AUDIT_ANCHOR_PUBLIC_KEY_FILE is not None:
        return load_public_key(settings.AUDIT_ANCHOR_PUBLIC_KEY_FILE)
    if settings.AUDIT_ANCHOR_KEY_FILE is not None:
        return load_public_key(settings.AUDIT_ANCHOR_KEY_FILE)
    return None
