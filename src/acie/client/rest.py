"""Python SDK for the REST API (httpx), with retries and client-side blind-inference encryption."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import numpy as np

from acie.client.results import (
    CounterfactualAnswer,
    SearchHits,
    answer_from_json,
    error_for,
    search_query,
)
from acie.client.retry import RetryPolicy, wait_until_available
from acie.errors import BackendUnavailableError

__all__ = ["RestClient"]


def _tensor(arr: np.ndarray) -> dict[str, Any]:
    from acie.wire.tensors import encode_b64

    return encode_b64(np.asarray(arr, dtype=np.float32))


def _spec(value: Any) -> Any:
    """An intervention as JSON: a float, or ``{kind: float}`` for a relative form."""
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items()}
    return float(value)


class RestClient:
    """Client of the ACIE REST API.

    Parameters
    ----------
    base_url : str
        E.g. ``http://127.0.0.1:8000``.
    token : str
        Bearer token (``acie auth token``).
    timeout_s : float
        Per-request timeout, seconds.
    retry : RetryPolicy
        Retries of RESOURCE_EXHAUSTED (429) and UNAVAILABLE (503, connection refused).
    verify : bool or str
        TLS verification: ``True``, ``False`` or a CA bundle path (for ``https://``).
    transport : httpx.BaseTransport, optional
        A custom transport (for example ``httpx.WSGITransport`` or an ASGI bridge).

    Examples
    --------
    >>> with RestClient("http://127.0.0.1:8000", token=tok) as c:      # doctest: +SKIP
    ...     ans = c.counterfactual(images, {"log_stellar_mass": 10.8})
    ...     ans.images.shape, ans.confidence
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = retry or RetryPolicy()
        self.attempts = 0
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            verify=verify,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
        )

    # -- plumbing ---------------------------------------------------------------------------
    def _once(self, method: str, path: str, **kw: Any) -> Any:
        self.attempts += 1
        try:
            r = self._http.request(method, path, **kw)
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise BackendUnavailableError(
                f"UNAVAILABLE: {self.base_url} is not reachable: {exc}"
            ) from exc
        except httpx.TimeoutException as exc:
            raise TimeoutError(
                f"DEADLINE_EXCEEDED: no answer from {self.base_url}{path} within the client timeout"
            ) from exc
        if r.status_code < 400:
            return r.json()
        try:
            err = r.json()["error"]
            code, message, trace = err["code"], err["message"], err.get("trace_id")
        except (ValueError, KeyError, TypeError):
            code = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(r.status_code, "INTERNAL")
            message, trace = r.text[:500] or r.reason_phrase, r.headers.get("x-trace-id")
        retry_after = r.headers.get("retry-after")
        error = error_for(
            code,
            message,
            trace_id=trace,
            retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
        if r.status_code == 413:  # too large: retrying cannot help
            error.retryable = False  # type: ignore[attr-defined]
        raise error

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        self.attempts = 0
        return self.retry.call(lambda: self._once(method, path, **kw))

    # -- operations -------------------------------------------------------------------------
    def health(self, *, wait: float = 0.0) -> dict[str, Any]:
        """``/healthz``: status, GPU count, model version and queue depth.

        Parameters
        ----------
        wait : float
            Seconds to wait for a server that is still starting (connection refused) or
            not serving yet; 0 (the default): only the :class:`RetryPolicy`'s retries.

        Raises
        ------
        BackendUnavailableError
            The server is unreachable or NOT_SERVING (after ``wait`` seconds, or after the
            retries).
        """
        if wait > 0:
            return wait_until_available(lambda: self._once("GET", "/healthz"), wait_s=wait)
        return self._call("GET", "/healthz")

    def models(self) -> list[dict[str, Any]]:
        """Served models with their SHA-256 versions."""
        return self._call("GET", "/v1/models")["models"]

    def _request(
        self,
        observation: np.ndarray,
        interventions: Mapping[str, Any],
        request_id: str | None,
        physics_tolerance: float | None,
        physics_steps: int | None,
        **options: Any,
    ) -> dict[str, Any]:
        """The JSON body; options only when set (not 0, False or None): server defaults."""
        body: dict[str, Any] = {
            "request_id": request_id or uuid.uuid4().hex,
            "observation": _tensor(observation),
            "interventions": {k: _spec(v) for k, v in interventions.items()},
        }
        if physics_tolerance is not None:
            body["physics_tolerance"] = physics_tolerance
        if physics_steps is not None:
            body["physics_steps"] = physics_steps
        body.update({k: v for k, v in options.items() if v not in (None, False, 0)})
        if "retrieve_filter" in body:
            body["retrieve_filter"] = dict(body["retrieve_filter"])
        return body

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
        """Counterfactual images of ``observation`` (n, C, H, W) under ``do(interventions)``.

        ``interventions`` maps a property to a value or to ``{"shift": d}`` /
        ``{"factor": f}`` of each galaxy's own abducted value; ``n_particles`` > 0 asks for
        uncertainty maps and intervals; ``all_or_nothing`` refuses the whole request when
        any galaxy is refused (else each galaxy has its own ``status``); ``retrieve_k`` > 0
        lists each galaxy's nearest galaxies in the server's index (``neighbours``),
        within ``retrieve_filter``; ``expected_draws`` N > 0: the expected answer (mean over
        N draws of what the image does not identify) instead of the point answer.
        """
        body = self._request(
            observation,
            interventions,
            request_id,
            physics_tolerance,
            physics_steps,
            n_particles=n_particles,
            all_or_nothing=all_or_nothing,
            expected_draws=expected_draws,
            retrieve_k=retrieve_k,
            retrieve_filter=retrieve_filter,
        )
        return answer_from_json(self._call("POST", "/v1/counterfactual", json=body))

    def submit_job(
        self,
        observation: np.ndarray,
        interventions: Mapping[str, Any],
        *,
        request_id: str | None = None,
        shared: bool = False,
        physics_tolerance: float | None = None,
        physics_steps: int | None = None,
        n_particles: int = 0,
        all_or_nothing: bool = False,
        retrieve_k: int = 0,
        retrieve_filter: Mapping[str, Any] | None = None,
        expected_draws: int = 0,
    ) -> dict[str, Any]:
        """Queue a counterfactual job (options as :meth:`counterfactual`); returns the job.

        With ``retrieve_k`` > 0 the finished job's result lists each galaxy's nearest
        galaxies (``neighbours``, within ``retrieve_filter``) among those you may see.
        """
        body = self._request(
            observation,
            interventions,
            request_id,
            physics_tolerance,
            physics_steps,
            n_particles=n_particles,
            all_or_nothing=all_or_nothing,
            expected_draws=expected_draws,
            retrieve_k=retrieve_k,
            retrieve_filter=retrieve_filter,
        )
        body["shared"] = shared
        return self._call("POST", "/v1/jobs", json=body)

    def job(self, job_id: str) -> dict[str, Any]:
        """A job's state, and its result once COMPLETE."""
        return self._call("GET", f"/v1/jobs/{job_id}")

    def jobs(self, limit: int = 20) -> list[dict[str, Any]]:
        """Recent jobs you may see."""
        return self._call("GET", "/v1/jobs", params={"limit": limit})["jobs"]

    def progress(self, job_id: str, *, timeout_s: float = 300.0) -> Iterator[dict[str, Any]]:
        """Follow a job over the WebSocket: yields each state, then the final job view."""
        from websockets.sync.client import connect

        ws_url = "ws" + self.base_url[len("http") :] + f"/v1/jobs/{job_id}/progress"
        with connect(
            ws_url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            open_timeout=timeout_s,
        ) as ws:
            while True:
                msg = json.loads(ws.recv(timeout=timeout_s))
                yield msg
                if msg.get("final"):
                    return

    def wait(self, job_id: str, *, timeout_s: float = 300.0) -> CounterfactualAnswer:
        """Wait for a job and return its answer (raising the job's error if it failed)."""
        final = None
        for msg in self.progress(job_id, timeout_s=timeout_s):
            final = msg
        if final is None or final.get("state") != "COMPLETE":
            err = (final or {}).get("error") or {"code": "INTERNAL", "message": "no result"}
            raise error_for(err["code"], err["message"], trace_id=err.get("trace_id"))
        return answer_from_json(final["result"])

    def search(
        self,
        vector: Any = None,
        *,
        image: Any = None,
        embedder: str | None = None,
        k: int = 10,
        filter: Mapping[str, Any] | None = None,
    ) -> SearchHits:
        """The ``k`` nearest indexed images you may read (``POST /v1/search``).

        ``vector``: made by the served galaxy embedder (``embedder`` may name it);
        ``image``: one galaxy, (C, H, W) or (1, C, H, W), which the server embeds. The
        hits, nearest first, carry the index's ``embedder``, ``dim`` and ``metric``.
        """
        vec, img = search_query(vector, image)
        body: dict[str, Any] = {"vector": vec, "image": None if img is None else _tensor(img)}
        body.update(k=k, embedder=embedder, filter=None if filter is None else dict(filter))
        body = {n: v for n, v in body.items() if v is not None}
        return SearchHits.from_json(self._call("POST", "/v1/search", json=body))

    def blind_layer(self) -> dict[str, Any]:
        """What the server's blind-inference layer computes (sizes, names, output scaler)."""
        return self._call("GET", "/v1/blind/layer")

    def blind_infer(
        self, features: Any, *, private_key: Any, request_id: str | None = None
    ) -> np.ndarray:
        """Blind inference: encrypt ``features`` here, let the server evaluate, decrypt here.

        Parameters
        ----------
        features : array (in_features,)
            The vector to evaluate (for the default layer: encoder features,
            :func:`acie.serve.blind.encoder_features`).
        private_key : acie.privacy.PaillierPrivateKey
            Your key pair; only the public half leaves this process.

        Returns
        -------
        numpy.ndarray
            The decrypted layer output (float64).
        """
        from acie.privacy.blind import BlindInferenceClient

        client = BlindInferenceClient(private_key=private_key)
        body = {
            "request_id": request_id or uuid.uuid4().hex,
            "encrypted_input": client.request(np.asarray(features, dtype=np.float64)),
        }
        resp = self._call("POST", "/v1/blind/infer", json=body)
        return client.decrypt(resp["encrypted_output"])

    def blind_head(
        self,
        features: Any,
        *,
        private_key: Any,
        head: str = "property",
        request_id: str | None = None,
        pool: Any = None,
    ) -> dict[str, np.ndarray]:
        """Blind inference of a whole head in rounds; the server sees only ciphertexts.

        Each round the server evaluates one linear layer on your ciphertexts; this client
        decrypts, applies the non-linearity the head declares, re-encrypts and sends the
        next round (see ``docs/privacy.md``).

        Parameters
        ----------
        features : array (in_features,)
            The head's input: for ``property``, the encoder features
            (:func:`acie.serve.blind.encoder_features`); for ``encoder``, the
            convolutional trunk's output (:func:`acie.serve.blind.trunk_features`).
        private_key : acie.privacy.PaillierPrivateKey
            Your key pair; only the public half leaves this process.
        head : str
            A head named by ``blind_layer()["heads"]``.
        request_id : str, optional
            Prefix of the rounds' request ids.
        pool : acie.privacy.RandomnessPool, optional
            Your randomness precomputed off-line (``RandomnessPool(public_key,
            private_key=private_key)``): encrypting then costs a multiplication per value.

        Returns
        -------
        dict of str to numpy.ndarray
            ``output`` (the head's raw output), ``mean`` and ``logvar`` (clamped as the
            model clamps it) of the standardised property posterior, and
            ``activations`` (what you learned in between, one row per hidden layer).
        """
        from acie.client.blind import run_blind_head

        rid = request_id or uuid.uuid4().hex
        spec = self.blind_layer()["heads"][head]

        def open_session(session: dict[str, Any]) -> dict[str, Any]:
            body = {"request_id": f"{rid}-0", "session": session}
            return self._call("POST", "/v1/blind/sessions", json=body)["encrypted_output"]

        def send_round(sid: str, k: int, payload: dict[str, Any]) -> dict[str, Any]:
            body = {"request_id": f"{rid}-{k}", "round": payload}
            resp = self._call("POST", f"/v1/blind/sessions/{sid}/rounds", json=body)
            return resp["encrypted_output"]

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
        """Close the HTTP connection pool; the client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
