"""TLS in front of the gRPC server: TLS 1.3 minimum and optional mutual TLS, in process.

The gRPC Python API (``grpc.ssl_server_credentials``) cannot set a minimum TLS version,
so with TLS on, :class:`acie.serve.grpc_server.GrpcServer` listens in plaintext on a
loopback port only this front connects to, and :class:`TlsFront` terminates TLS on the
public port with the same :class:`ssl.SSLContext` as REST
(:func:`acie.serve.tls.server_ssl_context`: TLS 1.3 minimum, ALPN ``h2``, client
certificates required when a client CA is configured) and relays the bytes.

The gRPC server sees every call coming from loopback; :meth:`TlsFront.client_of` maps
the loopback port of a relayed connection back to the real client address, so limits and
audit records per client address keep working. A loopback connection that did not come
through the front is unknown to it, and the interceptor refuses its calls.

One asyncio loop in one daemon thread relays all connections; at most
``max_connections`` are open at once (more are closed at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from typing import Any

__all__ = ["TlsFront"]

log = logging.getLogger("acie.serve.tls")

_CHUNK = 64 * 1024


class TlsFront:
    """Terminate TLS on ``host:port`` and relay each connection to a loopback port.

    Parameters
    ----------
    host : str
    port : int
        0 picks a free port; the bound one is :attr:`port` (bound at construction).
    context : ssl.SSLContext
        The server context (:func:`acie.serve.tls.server_ssl_context`).
    max_connections : int
        Connections relayed at once.
    handshake_timeout_s : float
        A client that has not finished the TLS handshake by then is dropped.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        context: ssl.SSLContext,
        max_connections: int = 1024,
        handshake_timeout_s: float = 10.0,
    ) -> None:
        self.context = context
        self.max_connections = max_connections
        self.handshake_timeout_s = handshake_timeout_s
        self.backend_port: int | None = None
        self._sock = socket.create_server((host, port), reuse_port=False)
        self._sock.setblocking(False)
        self.port = int(self._sock.getsockname()[1])
        self._clients: dict[int, str] = {}  # loopback port of the relayed connection -> client
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(self._quiet)
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._tasks: set[asyncio.Task] = set()

    @staticmethod
    def _quiet(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # failed handshakes (TLS 1.2 clients, missing client certificates) are routine
        log.debug(
            "tls front: %s", context.get("message"), extra={"error": str(context.get("exception"))}
        )

    def client_of(self, loopback_port: int) -> str | None:
        """The client address of the relayed connection on ``loopback_port`` (else ``None``)."""
        return self._clients.get(loopback_port)

    def start(self, backend_port: int) -> None:
        """Start relaying to ``127.0.0.1:backend_port``."""
        self.backend_port = backend_port
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(
                    self._relay,
                    sock=self._sock,
                    ssl=self.context,
                    ssl_handshake_timeout=self.handshake_timeout_s,
                )
            )
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="acie-grpc-tls", daemon=True)
        self._thread.start()
        ready.wait(10)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        back_w = None
        try:
            if len(self._tasks) > self.max_connections:
                return
            back_r, back_w = await asyncio.open_connection("127.0.0.1", self.backend_port)
            local = int(back_w.get_extra_info("sockname")[1])
            self._clients[local] = str(peer[0]) if peer else "unknown"
            try:
                pumps = [
                    asyncio.ensure_future(_pump(reader, back_w)),
                    asyncio.ensure_future(_pump(back_r, writer)),
                ]
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
                for p in pumps:
                    p.cancel()
            finally:
                self._clients.pop(local, None)
        except OSError as exc:
            log.warning("tls front: cannot reach the gRPC server: %s", exc)
        finally:
            for w in (writer, back_w):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()
            if task is not None:
                self._tasks.discard(task)

    def stop(self) -> None:
        """Stop accepting, drop open connections and stop the loop thread."""
        if self._thread is None:
            self._sock.close()
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for t in list(self._tasks):
                t.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
        self._sock.close()
        self._thread = None


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(_CHUNK)
            if not data:
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        return
