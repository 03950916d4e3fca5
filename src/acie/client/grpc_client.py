"""Python SDK for the gRPC API, with retries, TLS and mutual TLS."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import grpc
import numpy as np

from acie.client.results import (
    CounterfactualAnswer,
    SearchHits,
    answer_from_proto,
    error_for,
    search_query,
)
from acie.client.retry import RetryPolicy, wait_until_available
from acie.errors import BackendUnavailableError, InvalidInterventionError

__all__ = ["GrpcClient"]


class GrpcClient:
    """Client of ``acie.v1.InferenceService``.

    Parameters
    ----------
    target : str
        ``host:port``.
    token : str
        Bearer token.
    root_certificates : bytes, optional
        CA certificates (PEM) for TLS; without them the channel is plaintext.
    client_certificate, client_key : bytes, optional
        Client certificate chain and key (PEM) for mutual TLS.
    timeout_s : float
        Deadline of each call, seconds.
    retry : RetryPolicy
        Retries of RESOURCE_EXHAUSTED and UNAVAILABLE.
    max_reconnect_backoff_s : float
        Longest pause between the channel's attempts to reconnect to an unreachable
        server (gRPC's default is 120 s; a short one lets :meth:`health` with ``wait``
        notice a server soon after it starts).
    """

    def __init__(
        self,
        target: str,
        *,
        token: str,
        root_certificates: bytes | None = None,
        client_certificate: bytes | None = None,
        client_key: bytes | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        max_reconnect_backoff_s: float = 2.0,
    ) -> None:
        from acie.wire.proto import inference_pb2 as pb
        from acie.wire.proto import inference_pb2_grpc as pb_grpc

        self._pb = pb
        self.target = target
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.attempts = 0
        self._metadata = (("authorization", f"Bearer {token}"),)
        backoff_ms = max(100, int(max_reconnect_backoff_s * 1000))
        options = [
            ("grpc.initial_reconnect_backoff_ms", min(backoff_ms, 1000)),
            ("grpc.min_reconnect_backoff_ms", min(backoff_ms, 1000)),
            ("grpc.max_reconnect_backoff_ms", backoff_ms),
        ]
        if root_certificates is not None:
            creds = grpc.ssl_channel_credentials(
                root_certificates=root_certificates,
                private_key=client_key,
                certificate_chain=client_certificate,
            )
            self._channel = grpc.secure_channel(target, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = pb_grpc.InferenceServiceStub(self._channel)

    def _raise(self, exc: grpc.RpcError) -> None:
        trailing = dict(exc.trailing_metadata() or ())
        raise error_for(
            exc.code().name, exc.details() or "", trace_id=trailing.get("x-trace-id")
        ) from None

    def _request(
        self,
        observation: np.ndarray,
        interventions: Mapping[str, Any],
        request_id: str | None,
        physics_tolerance: float | None,
        physics_steps: int | None,
        n_particles: int = 0,
        all_or_nothing: bool = False,
        retrieve_k: int = 0,
        retrieve_filter: Mapping[str, Any] | None = None,
        expected_draws: int = 0,
    ) -> Any:
        pb = self._pb
        obs = np.ascontiguousarray(observation, dtype="<f4")
        req = pb.CounterfactualRequest(
            request_id=request_id or uuid.uuid4().hex,
            observation=pb.Tensor(shape=list(obs.shape), dtype="float32", data=obs.tobytes()),
            interventions={
                k: float(v) for k, v in interventions.items() if not isinstance(v, Mapping)
            },
            n_particles=int(n_particles),
            all_or_nothing=bool(all_or_nothing),
            retrieve_k=int(retrieve_k),
            retrieve_filter_json="" if retrieve_filter is None else json.dumps(retrieve_filter),
            expected_draws=int(expected_draws),
        )
        for k, v in interventions.items():
            if isinstance(v, Mapping):  # relative (or spelled-out absolute) forms
                if len(v) != 1:
                    raise InvalidInterventionError(
                        f"intervention on {k!r} must have exactly one of value, shift, "
                        f"factor; got keys {list(v)}"
                    )
                ((kind, amount),) = v.items()
                if kind not in ("value", "shift", "factor"):
                    raise InvalidInterventionError(
                        f"intervention on {k!r}: kind must be value, shift or factor; got {kind!r}"
                    )
                setattr(req.intervention_specs[k], kind, float(amount))
        if physics_tolerance is not None:
            req.physics_tolerance = physics_tolerance
        if physics_steps is not None:
            req.physics_steps = physics_steps
        return req

    def counterfactual(
        self,
        observation: np.ndarray,
        interventions: Mapping[str, Any],
        *,
        request_id: str | None = None,
        physics_tolerance: float | None = None,
        physics_steps: int | None = None,
        n_particles: int = 0,
        all_or_nothing: bool = False,
        retrieve_k: int = 0,
        retrieve_filter: Mapping[str, Any] | None = None,
        expected_draws: int = 0,
    ) -> CounterfactualAnswer:
        """One counterfactual call (retried on RESOURCE_EXHAUSTED and UNAVAILABLE).

        Interventions and options as :meth:`acie.client.RestClient.counterfactual`.
        """
        req = self._request(
            observation,
            interventions,
            request_id,
            physics_tolerance,
            physics_steps,
            n_particles,
            all_or_nothing,
            retrieve_k,
            retrieve_filter,
            expected_draws,
        )
        self.attempts = 0

        def once() -> Any:
            self.attempts += 1
            try:
                return self._stub.CounterfactualInference(
                    req, metadata=self._metadata, timeout=self.timeout_s
                )
            except grpc.RpcError as exc:
                self._raise(exc)

        return answer_from_proto(self.retry.call(once))

    def stream(
        self, requests: Iterable[Mapping[str, Any]]
    ) -> Iterator[CounterfactualAnswer | BaseException]:
        """Send many requests on one stream and yield their answers in completion order.

        Each request is a mapping with ``observation``, ``interventions`` and optionally
        ``request_id``, ``physics_tolerance``, ``physics_steps``, ``n_particles``,
        ``all_or_nothing``, ``retrieve_k``, ``retrieve_filter``, ``expected_draws``. A
        request that fails
        yields its ACIE error instead of an answer. Not retried (a stream is not idempotent
        as a whole).
        """
        reqs = (
            self._request(
                r["observation"],
                r.get("interventions", {}),
                r.get("request_id"),
                r.get("physics_tolerance"),
                r.get("physics_steps"),
                r.get("n_particles", 0),
                r.get("all_or_nothing", False),
                r.get("retrieve_k", 0),
                r.get("retrieve_filter"),
                r.get("expected_draws", 0),
            )
            for r in requests
        )
        try:
            for resp in self._stub.StreamInference(reqs, metadata=self._metadata):
                if resp.status.code:
                    code = grpc.StatusCode.__members__
                    name = next(
                        (n for n, c in code.items() if c.value[0] == resp.status.code), "UNKNOWN"
                    )
                    err = error_for(name, resp.status.message, trace_id=resp.trace_id or None)
                    err.request_id = resp.request_id  # type: ignore[attr-defined]
                    yield err
                else:
                    yield answer_from_proto(resp)
        except grpc.RpcError as exc:
            self._raise(exc)

    def _health_once(self, timeout_s: float, wait_for_ready: bool) -> dict[str, Any]:
        try:
            r = self._stub.HealthCheck(
                self._pb.HealthCheckRequest(), timeout=timeout_s, wait_for_ready=wait_for_ready
            )
        except grpc.RpcError as exc:
            self._raise(exc)
        return {
            "status": self._pb.HealthCheckResponse.ServingStatus.Name(r.status),
            "gpu_count": r.gpu_count,
            "model_version": r.model_version,
            "queue_depth": r.queue_depth,
        }

    def health(self, *, wait: float = 0.0) -> dict[str, Any]:
        """Status, GPU count, model version and queue depth.

        Parameters
        ----------
        wait : float
            Seconds to wait for a server that is still starting (the call waits for the
            channel to connect) or not SERVING yet; 0 (the default): ask once.

        Raises
        ------
        BackendUnavailableError
            The server is unreachable (or, with ``wait``, not SERVING within ``wait`` s).
        """
        if wait <= 0:
            return self._health_once(self.timeout_s, False)
        deadline = time.monotonic() + wait

        def attempt() -> dict[str, Any]:
            remaining = deadline - time.monotonic()
            try:
                out = self._health_once(max(remaining, 0.05), True)
            except TimeoutError as exc:  # the channel did not connect before the deadline
                raise BackendUnavailableError(
                    f"UNAVAILABLE: {self.target} did not answer within {wait:g} s"
                ) from exc
            if out["status"] != "SERVING":
                raise BackendUnavailableError(f"UNAVAILABLE: {self.target} is {out['status']}")
            return out

        return wait_until_available(attempt, wait_s=wait)

    def search(
        self,
        vector: Any = None,
        *,
        image: Any = None,
        embedder: str | None = None,
        k: int = 10,
        filter: Mapping[str, Any] | None = None,
    ) -> SearchHits:
        """The ``k`` nearest neighbours among the indexed images you may read (``Search``).

        Arguments and answer as :meth:`acie.client.RestClient.search`.
        """
        pb = self._pb
        vec, img = search_query(vector, image)
        req = pb.SearchRequest(
            k=int(k),
            embedder=embedder or "",
            filter_json="" if filter is None else json.dumps(dict(filter)),
        )
        if img is not None:
            req.image.CopyFrom(
                pb.Tensor(shape=list(img.shape), dtype="float32", data=img.tobytes())
            )
        else:
            req.vector.extend(vec or [])

        def once() -> Any:
            try:
                return self._stub.Search(req, metadata=self._metadata, timeout=self.timeout_s)
            except grpc.RpcError as exc:
                self._raise(exc)

        resp = self.retry.call(once)
        hits = [
            {"id": h.id, "distance": h.distance, "metadata": json.loads(h.metadata_json or "{}")}
            for h in resp.hits
        ]
        return SearchHits(hits, embedder=resp.embedder, dim=resp.dim, metric=resp.metric)

    def blind_head(
        self,
        features: Any,
        *,
        private_key: Any,
        spec: dict[str, Any],
        head: str = "property",
        request_id: str | None = None,
        pool: Any = None,
    ) -> dict[str, np.ndarray]:
        """Blind inference of a whole head in rounds over gRPC (see ``RestClient.blind_head``).

        Parameters
        ----------
        features : array (in_features,)
            The head's input.
        private_key : acie.privacy.PaillierPrivateKey
            Your key pair; only the public half leaves this process.
        spec : dict
            The head's description, ``RestClient.blind_layer()["heads"][head]``.
        head : str
            The head's name.
        request_id : str, optional
            Prefix of the rounds' request ids.
        pool : acie.privacy.RandomnessPool, optional
            Your randomness precomputed off-line.

        Returns
        -------
        dict of str to numpy.ndarray
            ``output``, ``mean``, ``logvar`` and ``activations``.
        """
        import json

        from acie.client.blind import run_blind_head

        pb = self._pb
        rid = request_id or uuid.uuid4().hex

        def call(method: Any, req: Any) -> dict[str, Any]:
            def once() -> Any:
                try:
                    return method(req, metadata=self._metadata, timeout=self.timeout_s)
                except grpc.RpcError as exc:
                    self._raise(exc)

            return json.loads(self.retry.call(once).output_json)

        def open_session(session: dict[str, Any]) -> dict[str, Any]:
            req = pb.BlindSessionRequest(request_id=f"{rid}-0", session_json=json.dumps(session))
            return call(self._stub.OpenBlindSession, req)

        def send_round(sid: str, k: int, payload: dict[str, Any]) -> dict[str, Any]:
            req = pb.BlindRoundRequest(
                request_id=f"{rid}-{k}", session_id=sid, round_json=json.dumps(payload)
            )
            return call(self._stub.BlindRound, req)

        return run_blind_head(
            features,
            private_key=private_key,
            head=head,
            spec=spec,
            open_session=open_session,
            send_round=send_round,
            pool=pool,
        )

    def close(self) -> None:
        """Close the gRPC channel; the client cannot be used afterwards."""
        self._channel.close()

    def __enter__(self) -> GrpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
