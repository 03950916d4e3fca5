"""`acie serve`: REST, gRPC and a worker on embedded defaults."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Attach the ``serve`` command to the top-level app."""

    @app.command()
    def serve(
        host: str | None = typer.Option(None, help="listen address (default: HOST setting)"),
        http_port: int | None = typer.Option(
            None, help="REST port (default: HTTP_PORT; 0 = any free)"
        ),
        grpc_port: int | None = typer.Option(
            None, help="gRPC port (default: GRPC_PORT; 0 = any free)"
        ),
        model: Path | None = typer.Option(
            None, help="deep-SCM checkpoint to serve (default: the shipped model)"
        ),
        tls_cert: Path | None = typer.Option(None, help="gRPC server certificate chain (PEM)"),
        tls_key: Path | None = typer.Option(None, help="gRPC server private key (PEM)"),
        tls_client_ca: Path | None = typer.Option(
            None, help="CA of client certificates: enables mutual TLS on gRPC"
        ),
        worker: bool = typer.Option(True, help="run a job worker in this process"),
        grace: float = typer.Option(5.0, help="seconds running calls get on shutdown"),
        drain: float = typer.Option(
            1.0, help="seconds health reports NOT_SERVING before the listeners close"
        ),
    ) -> None:
        """Start the API server (REST + gRPC) and a worker; Ctrl-C stops it gracefully.

        Works with no configuration: SQLite database and job queue in ACIE_DATA_DIR,
        in-memory rate limits, and a local JWT secret generated there when JWT_SECRET is
        unset (mint tokens with `acie auth token`).
        """
        import signal
        import threading

        from acie.config import get_settings
        from acie.errors import ConfigurationError
        from acie.serve.grpc_server import TlsConfig
        from acie.serve.server import Server, build_runtime, configure_torch_threads
        from acie.serve.tracing import configure_logging

        settings = get_settings()
        configure_logging(settings.LOG_LEVEL.value)
        tls = None
        if tls_cert or tls_key:
            if not (tls_cert and tls_key):
                raise ConfigurationError("--tls-cert and --tls-key go together; got only one")
            tls = TlsConfig(
                certificate_chain=tls_cert.read_bytes(),
                private_key=tls_key.read_bytes(),
                client_ca=tls_client_ca.read_bytes() if tls_client_ca else None,
            )
        elif tls_client_ca:
            raise ConfigurationError("--tls-client-ca needs --tls-cert and --tls-key")
        configure_torch_threads(settings.WORKER_THREADS)
        engine = None
        if model is not None:
            from acie.deepscm.engine import CounterfactualEngine

            engine = CounterfactualEngine.from_checkpoint(
                model, device="cuda" if settings.ENABLE_CUDA else "cpu"
            )
        from acie.ops.api import build_ops_router

        runtime = build_runtime(settings, model=engine)
        ops_router, ops_cache = build_ops_router(settings)  # /ops/report, /ops/metrics, /ops/health
        server = Server(
            runtime,
            host=host or settings.HOST,
            http_port=settings.HTTP_PORT if http_port is None else http_port,
            grpc_port=settings.GRPC_PORT if grpc_port is None else grpc_port,
            grpc_tls=tls,
            extra_routers=[ops_router],
            run_worker=worker,
        )
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        ops_cache.start()
        server.start()
        typer.echo(
            f"acie serve: REST {server.http_url}  gRPC {server.host}:{server.grpc_port}  "
            f"dashboard {server.http_url}/dashboard/  (Ctrl-C stops)",
            err=True,
        )
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.stop(grace_s=grace, drain_s=drain)
            ops_cache.stop()
