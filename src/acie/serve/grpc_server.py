"""The gRPC side: ``acie.v1.InferenceService``, health, TLS.

Every call passes :class:`acie.serve.grpc_auth.AuthInterceptor` first (authentication,
authorisation, rate limit, audit, trace id, metrics, errors to status codes).
``StreamInference`` answers UNAVAILABLE while the ``grpc_streaming`` feature flag is off.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from acie.serve.features import require_feature
from acie.serve.grpc_auth import AuthInterceptor, current_principal
from acie.serve.grpc_messages import request_interventions, to_response, worst_score
from acie.serve.retrieval import (
    audit_neighbours,
    check_retrieval,
    refine,
    retrieve_neighbours,
)
from acie.serve.status_codes import code_for, public_message
from acie.serve.telemetry_otel import grpc_interceptors
from acie.serve.tls import TlsConfig, server_ssl_context
from acie.serve.tls_front import TlsFront
from acie.serve.tracing import current_trace_id, trace_context
from acie.wire.proto import SERVICE_NAME
from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc
from acie.wire.tensors import decode_tensor

if TYPE_CHECKING:
    from acie.serve.runtime import ServingRuntime

__all__ = ["GrpcServer", "InferenceServicer"]

log = logging.getLogger("acie.serve.grpc")


class InferenceServicer(pb_grpc.InferenceServiceServicer):
    """``acie.v1.InferenceService`` over an :class:`~acie.serve.runtime.ServingRuntime`."""

    def __init__(self, runtime: ServingRuntime, *, stream_concurrency: int = 8) -> None:
        self.runtime = runtime
        self.stream_concurrency = stream_concurrency

    def _call(self, request: pb.CounterfactualRequest):
        obs = decode_tensor(
            request.observation.shape, request.observation.dtype, request.observation.data
        )
        return self.runtime.core.validate(
            request_id=request.request_id,
            observation=obs,
            interventions=request_interventions(request),
            physics_tolerance=(
                request.physics_tolerance if request.HasField("physics_tolerance") else None
            ),
            physics_steps=request.physics_steps if request.HasField("physics_steps") else None,
            n_particles=int(request.n_particles),
            all_or_nothing=bool(request.all_or_nothing),
            expected_draws=int(request.expected_draws),
        )

    def _retrieval(self, request: pb.CounterfactualRequest, n: int) -> tuple[int, Any]:
        """``retrieve_k`` and the parsed filter of ``request``, checked."""
        import json

        from acie.errors import DataFormatError

        where = None
        if request.retrieve_filter_json:
            try:
                where = json.loads(request.retrieve_filter_json)
            except ValueError as exc:
                raise DataFormatError(f"retrieve_filter_json must be JSON; got ({exc})") from None
            if not isinstance(where, dict):
                raise DataFormatError(
                    f"retrieve_filter_json must be a JSON object; got {type(where).__name__}"
                )
        k = check_retrieval(self.runtime, int(request.retrieve_k), n, where)
        return k, where

    def _with_neighbours(
        self, call: Any, result: Any, principal: Any, k: int, where: Any
    ) -> tuple[Any, list[list[dict[str, Any]]], dict[str, Any] | None]:
        """The result refined from the neighbours (when the refiner fits), the neighbours."""
        if not k:
            return result, [], None
        hits = retrieve_neighbours(self.runtime, principal, call.observation, k, where)
        audit_neighbours(self.runtime, principal, call.request_id, hits)
        result, info = refine(self.runtime, result, hits)
        return result, hits, info

    @staticmethod
    def _add_neighbours(
        resp: pb.CounterfactualResponse, hits: list[list[dict[str, Any]]], info: Any
    ) -> None:
        import json

        if info is None:
            return
        for g, row in zip(resp.galaxies, hits, strict=True):
            g.neighbours.extend(
                pb.Neighbour(
                    id=h["id"],
                    distance=h["distance"],
                    metadata_json=json.dumps(h["metadata"], default=str),
                )
                for h in row
            )
        resp.refined = bool(info["refined"])
        resp.refiner_version = info["refiner_version"] or ""
        resp.retrieval_note = info["note"]
        resp.retrieval_embedder, resp.retrieval_metric = info["embedder"], info["metric"]

    def CounterfactualInference(self, request, context):
        """Answer one counterfactual request within the call's deadline."""
        principal = current_principal()
        t0 = time.perf_counter()
        call = self._call(request)
        k, where = self._retrieval(request, int(call.observation.shape[0]))
        remaining = context.time_remaining()
        result = self.runtime.core.infer(principal.subject, call, timeout_s=remaining)
        result, hits, info = self._with_neighbours(call, result, principal, k, where)
        resp = to_response(call.request_id, result, (time.perf_counter() - t0) * 1e3)
        self._add_neighbours(resp, hits, info)
        return resp

    def StreamInference(self, request_iterator, context):
        """Answer a stream of requests concurrently, each response as soon as it is ready."""
        principal = current_principal()
        rt = self.runtime
        require_feature(rt.flags, "grpc_streaming")
        out: queue.Queue = queue.Queue()
        slots = threading.BoundedSemaphore(self.stream_concurrency)
        state = {"outstanding": 0, "reading": True}
        lock = threading.Lock()
        done = object()
        trace_id = current_trace_id()

        def finish_one() -> None:
            slots.release()
            with lock:
                state["outstanding"] -= 1
                last = not state["reading"] and state["outstanding"] == 0
            if last:
                out.put(done)

        def error_response(request_id: str, exc: BaseException) -> pb.CounterfactualResponse:
            code = code_for(exc)
            if code is grpc.StatusCode.INTERNAL:
                log.error("internal error in stream request %r", request_id, exc_info=exc)
            rt.audit.record(
                actor=principal.subject,
                action="grpc.StreamInference.request",
                outcome=code.name,
                request_id=request_id or None,
                resource=f"model/{rt.model_version}",
            )
            return pb.CounterfactualResponse(
                request_id=request_id,
                trace_id=trace_id or "",
                status=pb.Status(code=code.value[0], message=public_message(exc, code, trace_id)),
            )

        def deliver(
            request_id: str, t0: float, retrieval: tuple[Any, int, Any], fut: Future
        ) -> None:
            try:
                result = fut.result()
                rt.audit.record(
                    actor=principal.subject,
                    action="grpc.StreamInference.request",
                    outcome="OK",
                    request_id=request_id or None,
                    resource=f"model/{rt.model_version}",
                    duration_ms=(time.perf_counter() - t0) * 1e3,
                    violation_score=worst_score(result.violation_score),
                )
                with trace_context(trace_id):
                    call, k, where = retrieval
                    result, hits, info = self._with_neighbours(call, result, principal, k, where)
                    resp = to_response(request_id, result, (time.perf_counter() - t0) * 1e3)
                    self._add_neighbours(resp, hits, info)
                    out.put(resp)
            except Exception as exc:
                out.put(error_response(request_id, exc))
            finally:
                finish_one()

        def pump() -> None:
            with trace_context(trace_id):
                try:
                    for request in request_iterator:
                        slots.acquire()
                        with lock:
                            state["outstanding"] += 1
                        t0 = time.perf_counter()
                        try:
                            rt.rate_limiter.hit(principal.subject)
                            call = self._call(request)
                            k, where = self._retrieval(request, int(call.observation.shape[0]))
                            fut = rt.core.submit(principal.subject, call)
                        except Exception as exc:
                            out.put(error_response(request.request_id, exc))
                            finish_one()
                            continue
                        fut.add_done_callback(
                            functools.partial(deliver, request.request_id, t0, (call, k, where))
                        )
                except Exception as exc:  # the client went away or sent garbage
                    log.info("stream reader stopped: %s", exc)
                finally:
                    with lock:
                        state["reading"] = False
                        last = state["outstanding"] == 0
                    if last:
                        out.put(done)

        context.add_callback(lambda: out.put(done))
        threading.Thread(target=pump, name="acie-stream-reader", daemon=True).start()
        while True:
            item = out.get()
            if item is done:
                return
            yield item

    def HealthCheck(self, request, context):  # noqa: ARG002 - the servicer signature gRPC calls
        """Serving status, GPU count, model version and queue depth of this server."""
        rt = self.runtime
        return pb.HealthCheckResponse(
            status=pb.HealthCheckResponse.SERVING
            if rt.serving
            else pb.HealthCheckResponse.NOT_SERVING,
            gpu_count=rt.gpu_count(),
            model_version=rt.model_version or "",
            queue_depth=rt.queue_depth(),
        )

    def Search(self, request, context):  # noqa: ARG002 - the servicer signature
        """Nearest neighbours of a galaxy image or vector (:mod:`acie.serve.grpc_search`)."""
        from acie.serve import grpc_search

        return grpc_search.search(self.runtime, current_principal(), request)

    # -- blind inference in rounds (docs/privacy.md); payloads are the REST JSON documents --
    def _blind_layer(self) -> Any:
        from acie.errors import BackendUnavailableError

        rt = self.runtime
        require_feature(rt.flags, "blind_inference")
        if rt.blind_layer is None:
            raise BackendUnavailableError("this server has no blind-inference layer")
        return rt.blind_layer

    def _blind_response(self, request_id: str, out: dict[str, Any]) -> pb.BlindRoundResponse:
        import json

        return pb.BlindRoundResponse(
            request_id=request_id,
            session_id=out["session_id"],
            round=out["round"],
            rounds=out["rounds"],
            done=out["done"],
            output_json=json.dumps(out),
            model_version=out["model_version"],
        )

    def OpenBlindSession(self, request, context):  # noqa: ARG002 - the servicer signature
        """Open a blind session of a head and evaluate its round 0 on ciphertexts."""
        from acie.serve.blind_sessions import parse_json

        layer = self._blind_layer()
        out = layer.open_session(
            parse_json(request.session_json, "session_json"),
            owner=current_principal().subject,
            settings=self.runtime.settings,
        )
        return self._blind_response(request.request_id, out)

    def BlindRound(self, request, context):  # noqa: ARG002 - the servicer signature
        """Evaluate the next round of an open blind session."""
        from acie.serve.blind_sessions import parse_json

        layer = self._blind_layer()
        out = layer.session_round(
            request.session_id,
            parse_json(request.round_json, "round_json"),
            owner=current_principal().subject,
            settings=self.runtime.settings,
        )
        return self._blind_response(request.request_id, out)


class GrpcServer:
    """A gRPC server with the inference service and the standard health service.

    Parameters
    ----------
    runtime : ServingRuntime
    host : str
    port : int
        0 picks a free port; :attr:`port` is the bound one after :meth:`start`.
    tls : TlsConfig or None
        TLS 1.3 (mutual TLS with a client CA) through :class:`~acie.serve.tls_front.TlsFront`.
    max_workers : int
        Threads serving RPCs (each stream holds one while open).
    """

    def __init__(
        self,
        runtime: ServingRuntime,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TlsConfig | None = None,
        max_workers: int = 64,
    ) -> None:
        self.runtime = runtime
        self.health = health.HealthServicer(experimental_non_blocking=True)
        # TLS: a TLS 1.3 front on the public port, the gRPC server on loopback behind it
        self.front = (
            TlsFront(host=host, port=port, context=server_ssl_context(tls, alpn=("h2",)))
            if tls is not None
            else None
        )
        options = [
            ("grpc.max_receive_message_length", runtime.settings.MAX_REQUEST_BYTES),
            ("grpc.max_send_message_length", max(runtime.settings.MAX_REQUEST_BYTES, 64 << 20)),
            ("grpc.so_reuseport", 0),
        ]
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="acie-grpc"),
            interceptors=[
                *grpc_interceptors(runtime.settings),  # OTel spans first, when on
                AuthInterceptor(
                    runtime, client_of=self.front.client_of if self.front is not None else None
                ),
            ],
            options=options,
            maximum_concurrent_rpcs=max_workers,
        )
        pb_grpc.add_InferenceServiceServicer_to_server(InferenceServicer(runtime), self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        address = f"{host}:{port}" if self.front is None else "127.0.0.1:0"
        self._bound = self._server.add_insecure_port(address)
        if self._bound == 0:
            raise OSError(f"gRPC server could not bind {address}")
        self.port = self._bound if self.front is None else self.front.port
        self.host = host

    def set_serving(self, serving: bool) -> None:
        """Flip the standard health status of the service and of the server as a whole."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)

    def start(self) -> None:
        """Start accepting calls and report SERVING."""
        self._server.start()
        if self.front is not None:
            self.front.start(self._bound)
        self.set_serving(True)

    def stop(self, grace_s: float = 5.0) -> threading.Event:
        """Report NOT_SERVING, then stop, letting calls finish within ``grace_s``."""
        self.set_serving(False)
        stopped = self._server.stop(grace_s)
        front = self.front
        if front is not None:

            def close_front() -> None:  # after the grace period, so running calls can answer
                stopped.wait(grace_s + 1)
                front.stop()

            threading.Thread(target=close_front, name="acie-grpc-tls-stop", daemon=True).start()
        return stopped

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops or ``timeout`` seconds pass (``False`` on timeout)."""
        return self._server.wait_for_termination(timeout)
