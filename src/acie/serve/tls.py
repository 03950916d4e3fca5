"""TLS material of the server: one certificate and key for REST and gRPC.

The files come from ``TLS_CERT_FILE`` / ``TLS_KEY_FILE`` (and ``TLS_CLIENT_CA_FILE``
for mutual TLS on gRPC), or from ``acie serve --tls-cert/--tls-key/--tls-client-ca``,
which take precedence. gRPC takes the PEM bytes; uvicorn (REST) reads files, so
:func:`pem_files` writes the bytes to a private temporary folder for the moment uvicorn
loads them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acie.errors import ConfigurationError

__all__ = ["TlsConfig", "pem_files", "tls_from_settings"]


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """Server TLS material (PEM bytes).

    Parameters
    ----------
    certificate_chain, private_key : bytes
        The server certificate (chain) and its key.
    client_ca : bytes or None
        CA certificates of clients; when given, gRPC clients must present a certificate
        it signed (mutual TLS). REST uses server TLS only.
    """

    certificate_chain: bytes
    private_key: bytes
    client_ca: bytes | None = None

    @classmethod
    def from_files(
        cls, cert: str | os.PathLike[str], key: str | os.PathLike[str], client_ca: Any = None
    ) -> TlsConfig:
        """Read the PEM files (:class:`ConfigurationError` names a file that cannot be read)."""

        def read(path: Any, what: str) -> bytes:
            try:
                return Path(path).read_bytes()
            except OSError as exc:
                raise ConfigurationError(f"{what} {str(path)!r} cannot be read: {exc}") from None

        return cls(
            certificate_chain=read(cert, "TLS certificate"),
            private_key=read(key, "TLS private key"),
            client_ca=read(client_ca, "TLS client CA") if client_ca is not None else None,
        )


def tls_from_settings(
    settings: Any,
    *,
    cert: Path | None = None,
    key: Path | None = None,
    client_ca: Path | None = None,
) -> TlsConfig | None:
    """TLS of the given files, else of the settings; ``None`` when neither names any.

    Raises
    ------
    ConfigurationError
        Only one of certificate and key, or a client CA without them.
    """
    if cert is None and key is None:
        cert, key = settings.TLS_CERT_FILE, settings.TLS_KEY_FILE
        client_ca = client_ca if client_ca is not None else settings.TLS_CLIENT_CA_FILE
    if (cert is None) != (key is None):
        raise ConfigurationError("--tls-cert and --tls-key go together; got only one")
    if cert is None or key is None:
        if client_ca is not None:
            raise ConfigurationError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    return TlsConfig.from_files(cert, key, client_ca)


@contextlib.contextmanager
def pem_files(tls: TlsConfig) -> Iterator[tuple[str, str]]:
    """``(certfile, keyfile)`` paths of the PEM bytes in a private folder, removed after."""
    folder = tempfile.mkdtemp(prefix="acie-tls-")  # mode 0700
    try:
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        for path, data in ((cert, tls.certificate_chain), (key, tls.private_key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        yield cert, key
    finally:
        shutil.rmtree(folder, ignore_errors=True)
