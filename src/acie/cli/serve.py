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
        tls_cert: Path | None = typer.Option(
            None,
            help="server certificate chain (PEM), REST and gRPC, TLS 1.3 only "
            "(default: TLS_CERT_FILE)",
        ),
        tls_key: Path | None = typer.Option(
            None, help="server private key (PEM) (default: TLS_KEY_FILE)"
        ),
        tls_client_ca: Path | None = typer.Option(
            None,
            help="CA of client certificates: enables mutual TLS on REST and gRPC "
            "(default: TLS_CLIENT_CA_FILE)",
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
        unset (mint tokens with `acie auth token`). With ACIE_ENV=production (or staging)
        it refuses that local secret, plaintext listeners and Paillier keys under 2048 bits.
        """
        import signal
        import threading

        from acie.config import get_settings
        from acie.serve.policy import check_transport
        from acie.serve.server import Server, build_runtime, configure_torch_threads
        from acie.serve.tls import tls_from_settings
        from acie.serve.tracing import configure_logging

        settings = get_settings()
        configure_logging(settings.LOG_LEVEL.value)
        tls = tls_from_settings(settings, cert=tls_cert, key=tls_key, client_ca=tls_client_ca)
        check_transport(settings, http_tls=tls, grpc_tls=tls)  # before loading the model
        configure_torch_threads(settings.WORKER_THREADS)
        engine = None
        if model is not None:
            from acie.deepscm.engine import CounterfactualEngine
            from acie.deepscm.watermark import Watermark

            engine = CounterfactualEngine.from_checkpoint(
                model,
                device="cuda" if settings.ENABLE_CUDA else "cpu",
                watermark=Watermark(key=settings.watermark_key()),
            )
        runtime = build_runtime(settings, model=engine)
        server = Server(  # the REST app of acie.serve.app.create_app, with /ops mounted
            runtime,
            host=host or settings.HOST,
            http_port=settings.HTTP_PORT if http_port is None else http_port,
            grpc_port=settings.GRPC_PORT if grpc_port is None else grpc_port,
            grpc_tls=tls,
            http_tls=tls,
            run_worker=worker,
        )
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        server.start()
        typer.echo(
            f"acie serve: REST {server.http_url}  gRPC {server.host}:{server.grpc_port}  "
            f"explorer {server.http_url}/explorer/  (Ctrl-C stops)",
            err=True,
        )
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.stop(grace_s=grace, drain_s=drain)
