"""One process serving REST, gRPC and a job worker over one :class:`ServingRuntime`.

:func:`build_runtime` opens the backends the settings name (embedded defaults: SQLite
database and job queue in ``ACIE_DATA_DIR``, in-memory rate limits, and the served galaxy
embedder's vector index, :mod:`acie.serve.embedding_index`)
and :class:`Server` starts uvicorn (in a thread), the gRPC server and the worker.
:meth:`Server.stop` shuts down gracefully: health flips to NOT_SERVING on both
protocols first, then new work is refused, running calls get ``grace_s`` to finish,
the worker finishes its job, and the audit log is flushed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from acie.serve import telemetry_otel
from acie.serve.grpc_server import GrpcServer
from acie.serve.job_service import JobRunner
from acie.serve.runtime import ServingRuntime
from acie.serve.tls import TlsConfig, server_ssl_context

__all__ = ["Server", "build_runtime", "configure_torch_threads", "resolve_jwt_secret"]

log = logging.getLogger("acie.serve.server")


def configure_torch_threads(worker_threads: int) -> int:
    """Give each inference worker an equal share of the cores (torch intra-op threads).

    Several workers each running multi-threaded torch oversubscribe the CPU, and idle
    OpenMP threads spin: on 2 cores one 64x64 counterfactual took ~30 ms of CPU with 2
    torch threads per call and ~6 ms with 1 (measured, docs/serving.md). Returns the
    thread count set.
    """
    import os

    import torch

    n = max(1, (os.cpu_count() or 1) // max(1, worker_threads))
    torch.set_num_threads(n)
    return n


def resolve_jwt_secret(settings: Any) -> str | None:
    """``JWT_SECRET``, else (without a JWKS file) the local secret in ``ACIE_DATA_DIR``.

    A generated secret is logged (its path, never its value), so an operator knows that
    tokens must come from ``acie auth token`` on this machine. ``ACIE_ENV=production``
    refuses the local secret (:func:`acie.serve.policy.check_jwt_secret`).
    """
    from acie.serve.auth import load_or_create_local_secret
    from acie.serve.policy import check_jwt_secret

    if settings.JWT_SECRET is not None:
        return settings.JWT_SECRET.get_secret_value()
    if settings.JWKS_FILE is not None:
        return None
    check_jwt_secret(settings)
    secret, created = load_or_create_local_secret(settings.ACIE_DATA_DIR)
    path = settings.ACIE_DATA_DIR / "jwt_secret"
    if created:
        log.warning(
            "JWT_SECRET is not set: generated a local HS256 secret", extra={"path": str(path)}
        )
    else:
        log.info("JWT_SECRET is not set: using the local HS256 secret", extra={"path": str(path)})
    return secret


def _optional(what: str, build: Any) -> Any:
    """Build an optional part; a model that cannot support it leaves it out, logged."""
    from acie.errors import AcieError

    try:
        return build()
    except AcieError as exc:
        log.warning("%s not available: %s", what, exc)
        return None


def build_runtime(
    settings: Any,
    *,
    model: Any = None,
    embedder: Any = None,
    blind_layer: Any = None,
    job_queue: Any = None,
) -> ServingRuntime:
    """Open the database, audit log, job queue and model the settings name.

    Parameters
    ----------
    settings : acie.config.Settings
    model : CounterfactualModel, optional
        Default: the shipped model (:func:`acie.deepscm.engine.load_default_model`).
    embedder : Embedder, optional
        The galaxy embedder to serve (default: the shipped one). The runtime's
        ``vector_index`` is its index (:func:`acie.serve.embedding_index.served_embedding`,
        ``VECTOR_BACKEND``), the one index search, dataset ingestion, ``retrieve_k`` and
        finished jobs use; without it (an index of another dimension, logged) those
        answer UNAVAILABLE.
    blind_layer, job_queue : optional
        Already-built blind-inference layer and job queue (default: what the settings
        name, :func:`acie.jobs.open_job_queue`).
    """
    from acie.errors import AcieError
    from acie.jobs import open_job_queue
    from acie.serve.blind import BlindLayer
    from acie.serve.embedding_index import served_embedding
    from acie.serve.policy import client_key_bits_floor, load_paillier_key
    from acie.store.anchors import anchor_exporter
    from acie.store.audit import AuditLog
    from acie.store.database import create_engine_for, migrate

    settings.ACIE_DATA_DIR.mkdir(parents=True, exist_ok=True)
    secret = resolve_jwt_secret(settings)
    client_key = load_paillier_key(settings)  # PAILLIER_PUB_KEY: the one key blind requests use
    engine = create_engine_for(settings.database_url)
    telemetry_otel.instrument_backends(settings, engine)  # OTel spans, when on
    migrate(settings.database_url, engine=engine)
    if model is None:
        from acie.deepscm.engine import load_default_model
        from acie.deepscm.watermark import Watermark

        model = load_default_model(
            device="cuda" if settings.ENABLE_CUDA else "cpu",
            watermark=Watermark(key=settings.watermark_key()),
        )
    queue = (
        job_queue
        if job_queue is not None
        else open_job_queue(settings, engine=engine, migrate_schema=False)
    )
    if blind_layer is None:
        blind_layer = _optional(
            "blind-inference layer",
            lambda: BlindLayer.from_engine(
                model, client_key=client_key, min_key_bits=client_key_bits_floor(settings)
            ),
        )
    # the served galaxy embedder's index: search, uploads, retrieve_k and finished jobs
    index_problem = None
    try:
        served = served_embedding(engine, settings=settings, embedder=embedder)
    except AcieError as exc:  # served without search; the reason is kept for the answers
        log.warning("embedding index not available: %s", exc)
        served, index_problem = None, str(exc)
    rt = ServingRuntime.build(
        settings=settings,
        model=model,
        audit_log=AuditLog(engine),
        secret=secret,
        job_queue=queue,
        vector_index=None if served is None else served.index,
        blind_layer=blind_layer,
    )
    rt.vector_index_problem = index_problem
    rt.on_close(engine.dispose)
    rt.on_close(queue.close)
    exporter = anchor_exporter(settings, AuditLog(engine))
    if exporter is not None:  # signed audit heads on a schedule; the last one at shutdown
        exporter.start()
        rt.on_close(exporter.stop)  # closers run in reverse: before the engine is disposed
    return rt


class Server:
    """REST (uvicorn), gRPC and a job worker in one process.

    Parameters
    ----------
    runtime : ServingRuntime
    host : str
    http_port, grpc_port : int
        0 picks free ports; the bound ports are :attr:`http_port`, :attr:`grpc_port`.
    grpc_tls : TlsConfig or None
        TLS 1.3 (and, with ``client_ca``, mutual TLS) for gRPC.
    http_tls : TlsConfig or None
        TLS 1.3 (and, with ``client_ca``, mutual TLS) for REST.
    extra_routers : sequence of fastapi.APIRouter
        Mounted into the REST app (see :func:`acie.serve.app.create_app`).
    run_worker : bool
        Also run a job worker thread on the runtime's job queue.
    """

    def __init__(
        self,
        runtime: ServingRuntime,
        *,
        host: str = "127.0.0.1",
        http_port: int = 0,
        grpc_port: int = 0,
        grpc_tls: TlsConfig | None = None,
        http_tls: TlsConfig | None = None,
        extra_routers: Sequence[Any] = (),
        run_worker: bool = True,
    ) -> None:
        import uvicorn

        from acie.serve.app import create_app
        from acie.serve.policy import check_transport

        check_transport(runtime.settings, http_tls=http_tls, grpc_tls=grpc_tls)
        self.runtime = runtime
        self.host = host
        self.http_tls = http_tls
        self.app = create_app(runtime, extra_routers=extra_routers)
        telemetry_otel.instrument_app(self.app, runtime.settings)  # OTel spans, when on
        self._uvicorn = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host=host,
                port=http_port,
                log_config=None,
                access_log=False,
                lifespan="on",  # starts and stops the ops report's cache
                ws="websockets-sansio",
                timeout_graceful_shutdown=10,
                # TLS 1.3 minimum, mutual TLS with a client CA (acie.serve.tls)
                ssl_context_factory=(
                    (lambda _config, _default: server_ssl_context(http_tls))
                    if http_tls is not None
                    else None
                ),
            )
        )
        self.grpc = GrpcServer(runtime, host=host, port=grpc_port, tls=grpc_tls)
        self._http_thread: threading.Thread | None = None
        self._worker: Any = None
        self._worker_thread: threading.Thread | None = None
        self._run_worker = run_worker and runtime.job_queue is not None
        self._stopped = False

    @property
    def grpc_port(self) -> int:
        """The port gRPC listens on (the bound one when 0 was asked for)."""
        return self.grpc.port

    @property
    def http_port(self) -> int:
        """The port REST listens on (the bound one once started, else the configured one)."""
        servers = getattr(self._uvicorn, "servers", None) or []
        for s in servers:
            for sock in s.sockets:
                return int(sock.getsockname()[1])
        return int(self._uvicorn.config.port)

    @property
    def http_url(self) -> str:
        """The base URL of the REST API (``https`` with TLS)."""
        scheme = "https" if self.http_tls is not None else "http"
        return f"{scheme}://{self.host}:{self.http_port}"

    def start(self, *, timeout_s: float = 20.0) -> Server:
        """Start all parts; returns when REST and gRPC accept connections."""
        from acie.jobs import Worker

        t0 = time.perf_counter()
        if not self.runtime.core.wait_ready(timeout=120):
            log.warning("inference threads still warming up; serving anyway")
        log.info("model warmed up", extra={"seconds": round(time.perf_counter() - t0, 3)})
        self.grpc.start()
        self._http_thread = threading.Thread(
            target=self._uvicorn.run, name="acie-http", daemon=True
        )
        self._http_thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._uvicorn.started:
            if not self._http_thread.is_alive() or time.monotonic() > deadline:
                self.grpc.stop(0)
                raise OSError(
                    f"the REST server did not start on {self.host}:"
                    f"{self._uvicorn.config.port} within {timeout_s} s"
                )
            time.sleep(0.01)
        if self._run_worker:
            runner = JobRunner(
                core=self.runtime.core,
                vector_index=self.runtime.vector_index,
                queue=self.runtime.job_queue,
            )
            self._worker = Worker(
                self.runtime.job_queue, runner.handle, physics_check=runner.physics_check
            )
            self._worker_thread = threading.Thread(
                target=self._worker.run, kwargs={"poll_s": 0.5}, name="acie-worker", daemon=True
            )
            self._worker_thread.start()
        self.runtime.serving = True
        log.info(
            "serving",
            extra={
                "http": self.http_url,
                "grpc": f"{self.host}:{self.grpc_port}",
                "model_version": self.runtime.model_version,
            },
        )
        return self

    def stop(self, *, grace_s: float = 5.0, drain_s: float = 0.0) -> None:
        """Graceful shutdown (idempotent).

        Health turns NOT_SERVING on both protocols first; for ``drain_s`` seconds the
        server keeps answering (so load balancers polling health move traffic away), then
        new calls are refused, running calls get ``grace_s`` seconds, the worker finishes
        its current job, and the audit log is flushed.
        """
        if self._stopped:
            return
        self._stopped = True
        self.runtime.serving = False
        self.grpc.set_serving(False)
        log.info(
            "shutting down: health is NOT_SERVING", extra={"grace_s": grace_s, "drain_s": drain_s}
        )
        if drain_s > 0:
            time.sleep(drain_s)
        if self._worker is not None:
            self._worker.stop()
        stopped = self.grpc.stop(grace_s)
        self._uvicorn.should_exit = True
        if self._http_thread is not None:
            self._http_thread.join(grace_s + 5)
        stopped.wait(grace_s + 1)
        if self._worker_thread is not None:
            self._worker_thread.join(grace_s + 5)
        self.runtime.close()
        log.info("stopped")

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(grace_s=1.0)
