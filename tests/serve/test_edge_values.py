"""Hostile values over real sockets: non-finite answers, absurd shapes, deep JSON, 500 bodies.

Every refusal is the documented error (REST ``{"error": {code, message, trace_id}}``,
gRPC a status code), never a 500 / INTERNAL and never a non-finite number in an answer.
"""

from __future__ import annotations

import base64
import json

import grpc
import httpx
import numpy as np
import pytest
from fastapi import APIRouter

from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc

LOOSE = 1e9


def _auth(tok):
    return {"Authorization": f"Bearer {tok}"}


def _assert_error_body(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == code
    assert err["message"]
    assert err["trace_id"] == r.headers["x-trace-id"]
    return err


def _constant_request(fmt, value=20.0, **extra):
    img = np.full((1, 1, 16, 16), value, dtype="<f4")
    if fmt == "rest":
        return {
            "request_id": "const",
            "observation": {
                "shape": [1, 1, 16, 16],
                "dtype": "float32",
                "data": base64.b64encode(img.tobytes()).decode(),
            },
            "physics_steps": 0,
            **extra,
        }
    return pb.CounterfactualRequest(
        request_id="const",
        observation=pb.Tensor(shape=[1, 1, 16, 16], dtype="float32", data=img.tobytes()),
        physics_steps=0,
        **extra,
    )


class _NanModel:
    """The tiny engine with its answers poisoned: NaN pixels, or infinite properties."""

    def __init__(self, engine, what):
        self._engine = engine
        self._what = what
        self.model_version = engine.model_version
        self.property_names = engine.property_names
        self.image_shape = engine.image_shape

    def counterfactual(self, images, interventions, **kw):
        import dataclasses

        res = self._engine.counterfactual(images, interventions, **kw)
        if self._what == "pixels" and kw.get("watermark"):
            bad = np.array(res.images, copy=True)
            bad.reshape(-1)[0] = np.nan
            return dataclasses.replace(res, images=bad)
        if self._what == "properties" and kw.get("watermark"):
            props = {
                k: np.full_like(np.asarray(v), np.inf) for k, v in res.factual_properties.items()
            }
            return dataclasses.replace(res, counterfactual_properties=props)
        return res


def test_constant_image_nan_score_is_refused_on_both_protocols(server, token):
    """A constant image of 20.0 with physics_steps=0 gave 200 and violation_score null."""
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post("/v1/counterfactual", json=_constant_request("rest"), headers=_auth(token()))
    if r.status_code == 200:  # the engine may find a finite answer: then it must be finite
        body = r.json()
        assert all(v is not None and np.isfinite(v) for v in body["violation_score"]), body
        raw = base64.b64decode(body["counterfactual"]["data"])
        assert np.all(np.isfinite(np.frombuffer(raw, "<f4")))
    else:
        err = _assert_error_body(r, 422, "FAILED_PRECONDITION")
        assert "finite" in err["message"] or "tolerance" in err["message"]
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        stub = pb_grpc.InferenceServiceStub(ch)
        try:
            resp = stub.CounterfactualInference(
                _constant_request("grpc"), metadata=(("authorization", f"Bearer {token()}"),)
            )
        except grpc.RpcError as exc:
            code = exc.code()
        else:
            code = grpc.StatusCode.OK
            assert np.all(np.isfinite(resp.violation_score))
            assert np.all(np.isfinite(np.frombuffer(resp.counterfactual.data, "<f4")))
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION)
    finally:
        ch.close()


def test_engine_check_refuses_a_nan_violation_score(tiny_engine, monkeypatch):
    """The engine's own physics check counts a NaN score as a violation."""
    from acie.errors import PhysicsViolationError
    from acie.galaxy import constraints

    monkeypatch.setattr(
        constraints,
        "violation_score",
        lambda props: np.full(len(next(iter(props.values()))), np.nan),
    )
    obs = np.random.default_rng(0).gamma(2.0, 10.0, size=(2, 1, 16, 16)).astype(np.float32)
    with pytest.raises(PhysicsViolationError, match="nan"):
        tiny_engine.counterfactual(obs, {}, physics_tolerance=LOOSE, physics_steps=0)


@pytest.mark.parametrize("what", ["pixels", "properties"])
def test_non_finite_answers_are_refused_not_returned(server_factory, tiny_engine, token, what):
    server = server_factory(model=_NanModel(tiny_engine, what))
    rng = np.random.default_rng(1)
    img = rng.gamma(2.0, 10.0, size=(1, 1, 16, 16)).astype("<f4")
    body = {
        "request_id": "nan",
        "observation": {
            "shape": [1, 1, 16, 16],
            "dtype": "float32",
            "data": base64.b64encode(img.tobytes()).decode(),
        },
        "physics_tolerance": LOOSE,
    }
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post("/v1/counterfactual", json=body, headers=_auth(token()))
    err = _assert_error_body(r, 422, "FAILED_PRECONDITION")
    assert "finite" in err["message"]
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        stub = pb_grpc.InferenceServiceStub(ch)
        req = pb.CounterfactualRequest(
            request_id="nan",
            observation=pb.Tensor(shape=[1, 1, 16, 16], dtype="float32", data=img.tobytes()),
            physics_tolerance=LOOSE,
        )
        with pytest.raises(grpc.RpcError) as info:
            stub.CounterfactualInference(req, metadata=(("authorization", f"Bearer {token()}"),))
        assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "finite" in info.value.details()
    finally:
        ch.close()


HUGE = [0, 1 << 20, 1 << 20, 1 << 20, 1 << 20]


@pytest.mark.parametrize(
    "shape",
    [HUGE, [1 << 20, 1 << 20, 1 << 20, 0], [0], [2, 0, 16, 16], [1, 1, 16, 16, 1, 1, 1, 1]],
)
def test_absurd_shapes_are_invalid_argument(server, token, shape):
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post(
            "/v1/counterfactual",
            json={
                "request_id": "shape",
                "observation": {"shape": shape, "dtype": "float32", "data": ""},
            },
            headers=_auth(token()),
        )
    _assert_error_body(r, 400, "INVALID_ARGUMENT")
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        stub = pb_grpc.InferenceServiceStub(ch)
        for dims in (shape, [0, 1 << 40, 1 << 40], [1 << 62, 1 << 62, 0]):
            req = pb.CounterfactualRequest(
                request_id="shape", observation=pb.Tensor(shape=dims, dtype="float32", data=b"")
            )
            with pytest.raises(grpc.RpcError) as info:
                stub.CounterfactualInference(
                    req, metadata=(("authorization", f"Bearer {token()}"),)
                )
            assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    finally:
        ch.close()


def test_decode_tensor_checks_every_dimension_without_overflow():
    from acie.errors import ShapeError
    from acie.wire.tensors import MAX_DIM, decode_tensor

    for dims in (HUGE, [0, MAX_DIM + 1], [1 << 63, 0], [2] * 40):
        with pytest.raises(ShapeError):
            decode_tensor(dims, "float32", b"")
    assert decode_tensor([2, 0], "float32", b"").shape == (2, 0)


def test_deep_json_gets_the_documented_error(server, token):
    deep = "[" * 100_000 + "]" * 100_000
    body = '{"request_id": "deep", "observation": ' + deep + "}"
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post(
            "/v1/counterfactual",
            content=body,
            headers={**_auth(token()), "Content-Type": "application/json"},
        )
        for junk in ('{"request_id": ', "\xff\xfe", "[" * 5000):
            r2 = c.post(
                "/v1/counterfactual",
                content=junk.encode("latin-1"),
                headers={**_auth(token()), "Content-Type": "application/json"},
            )
            _assert_error_body(r2, 400, "INVALID_ARGUMENT")
        health = c.get("/healthz")
    err = _assert_error_body(r, 400, "INVALID_ARGUMENT")
    assert "JSON" in err["message"] or "json" in err["message"]
    assert health.status_code == 200


def test_unhandled_errors_are_json_500_with_trace_id(server_factory, token):
    router = APIRouter()

    @router.get("/v1/boom")
    def boom() -> dict:
        raise RuntimeError("secret internal detail")

    server = server_factory(extra_routers=[router])
    with httpx.Client(base_url=server.http_url) as c:
        r = c.get("/v1/boom", headers={"X-Trace-Id": "trace-500-abcdef"})
        health = c.get("/healthz")
    err = _assert_error_body(r, 500, "INTERNAL")
    assert "secret" not in err["message"]
    assert err["trace_id"] == "trace-500-abcdef"
    assert json.loads(health.text)["status"] == "SERVING"


def test_method_not_allowed_is_the_documented_body(server):
    with httpx.Client(base_url=server.http_url) as c:
        r = c.request("PATCH", "/v1/models")
    _assert_error_body(r, 405, "UNIMPLEMENTED")
