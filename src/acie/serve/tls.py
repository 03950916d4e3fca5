"""TLS material of the server: one certificate and key for REST and gRPC.

The files come from ``TLS_CERT_FILE`` / ``TLS_KEY_FILE`` (and ``TLS_CLIENT_CA_FILE``
for mutual TLS), or from ``acie serve --tls-cert/--tls-key/--tls-client-ca``, which take
precedence. Both protocols accept TLS 1.3 only (:data:`MIN_TLS_VERSION`): REST through
the :class:`ssl.SSLContext` of :func:`server_ssl_context`, gRPC through the same context
in front of it (:mod:`acie.serve.tls_front`; the gRPC Python API cannot pin a version).
With a client CA, clients must present a certificate it signed (mutual TLS), on both.
:func:`pem_files` writes PEM bytes to a private temporary folder for the moment a file
path is needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acie.errors import ConfigurationError

__all__ = [
    "MIN_TLS_VERSION",
    "TlsConfig",
    "pem_files",
    "server_ssl_context",
    "tls_from_settings",
]

#: the oldest TLS version either protocol accepts
MIN_TLS_VERSION = ssl.TLSVersion.TLSv1_3


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """Server TLS material (PEM bytes).

    Parameters
    ----------
    certificate_chain, private_key : bytes
        The server certificate (chain) and its key.
    client_ca : bytes or None
        CA certificates of clients; when given, REST and gRPC clients must present a
        certificate it signed (mutual TLS).
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


def server_ssl_context(tls: TlsConfig, *, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
    """A server :class:`ssl.SSLContext`: TLS 1.3 minimum, mutual TLS with a client CA.

    Parameters
    ----------
    tls : TlsConfig
    alpn : tuple of str
        Application protocols offered (``("h2",)`` for gRPC).

    Raises
    ------
    ConfigurationError
        The certificate, key or client CA cannot be loaded.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = MIN_TLS_VERSION
    try:
        with pem_files(tls) as (cert, key):
            ctx.load_cert_chain(cert, key)
        if tls.client_ca is not None:
            ctx.load_verify_locations(cadata=tls.client_ca.decode("ascii"))
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (ssl.SSLError, ValueError, OSError) as exc:
        raise ConfigurationError(
            f"the TLS certificate, key or client CA is not usable: {exc}"
        ) from None
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx
