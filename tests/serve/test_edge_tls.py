"""TLS on both protocols over real handshakes: TLS 1.3 only, mutual TLS optional.

REST gets its own TLS (uvicorn with the context of :func:`acie.serve.tls.server_ssl_context`);
gRPC gets the same context through :class:`acie.serve.tls_front.TlsFront`. A client that
offers at most TLS 1.2 is refused by both.
"""

from __future__ import annotations

import socket
import ssl

import grpc
import httpx
import numpy as np
import pytest

from acie.serve.tls import TlsConfig
from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc


def _client_context(pki, *, max_version=None, cert=False, alpn=None):
    ctx = ssl.create_default_context(cadata=pki["ca"].decode())
    if max_version is not None:
        ctx.maximum_version = max_version
    if cert:
        import os
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            c, k = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            with open(c, "wb") as fh:
                fh.write(pki["client_cert"])
            with open(k, "wb") as fh:
                fh.write(pki["client_key"])
            ctx.load_cert_chain(c, k)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def _handshake(port, ctx):
    """TLS version and ALPN protocol of a completed handshake (raises ssl.SSLError if refused)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.version(), tls.selected_alpn_protocol()


@pytest.fixture
def tls_server(tiny_engine, settings_factory, pki):
    from acie.serve.server import Server, build_runtime

    started = []

    def make(client_ca=False, **overrides):
        tls = TlsConfig(
            certificate_chain=pki["server_cert"],
            private_key=pki["server_key"],
            client_ca=pki["ca"] if client_ca else None,
        )
        rt = build_runtime(settings_factory(**overrides), model=tiny_engine)
        srv = Server(rt, grpc_tls=tls, http_tls=tls).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop(grace_s=0.5)


def test_tls12_clients_are_refused_on_both_protocols(tls_server, pki, token):
    server = tls_server()
    assert server.http_url.startswith("https://")
    for port in (server.http_port, server.grpc_port):
        with pytest.raises(ssl.SSLError):
            _handshake(port, _client_context(pki, max_version=ssl.TLSVersion.TLSv1_2))
    version, _ = _handshake(server.http_port, _client_context(pki))
    assert version == "TLSv1.3"
    version, alpn = _handshake(server.grpc_port, _client_context(pki, alpn=["h2"]))
    assert (version, alpn) == ("TLSv1.3", "h2")
    with httpx.Client(base_url=server.http_url, verify=_client_context(pki)) as c:
        r = c.get("/v1/models", headers={"Authorization": f"Bearer {token()}"})
    assert r.status_code == 200
    creds = grpc.ssl_channel_credentials(root_certificates=pki["ca"])
    obs = np.ones((1, 1, 16, 16), "<f4") * 10
    req = pb.CounterfactualRequest(
        request_id="tls",
        observation=pb.Tensor(shape=[1, 1, 16, 16], dtype="float32", data=obs.tobytes()),
        physics_tolerance=1e9,
    )
    with grpc.secure_channel(f"localhost:{server.grpc_port}", creds) as ch:
        resp = pb_grpc.InferenceServiceStub(ch).CounterfactualInference(
            req, metadata=(("authorization", f"Bearer {token()}"),), timeout=20
        )
    assert resp.request_id == "tls"


def test_the_plaintext_port_behind_the_tls_front_refuses_calls(tls_server, token):
    server = tls_server()
    behind = server.grpc._bound
    with grpc.insecure_channel(f"127.0.0.1:{behind}") as ch, pytest.raises(grpc.RpcError) as info:
        pb_grpc.InferenceServiceStub(ch).CounterfactualInference(
            pb.CounterfactualRequest(request_id="x"),
            metadata=(("authorization", f"Bearer {token()}"),),
            timeout=10,
        )
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_mutual_tls_on_both_protocols(tls_server, pki, token):
    server = tls_server(client_ca=True)
    auth = {"Authorization": f"Bearer {token()}"}
    with (
        pytest.raises((httpx.TransportError, ssl.SSLError)),
        httpx.Client(base_url=server.http_url, verify=_client_context(pki)) as c,
    ):
        c.get("/v1/models", headers=auth)  # no client certificate
    with httpx.Client(base_url=server.http_url, verify=_client_context(pki, cert=True)) as c:
        assert c.get("/v1/models", headers=auth).status_code == 200
    target = f"localhost:{server.grpc_port}"
    for creds, ok in (
        (grpc.ssl_channel_credentials(root_certificates=pki["ca"]), False),
        (
            grpc.ssl_channel_credentials(
                root_certificates=pki["ca"],
                private_key=pki["client_key"],
                certificate_chain=pki["client_cert"],
            ),
            True,
        ),
    ):
        with grpc.secure_channel(target, creds) as ch:
            stub = pb_grpc.InferenceServiceStub(ch)
            if ok:
                assert stub.HealthCheck(pb.HealthCheckRequest(), timeout=10).model_version
            else:
                with pytest.raises(grpc.RpcError) as info:
                    stub.HealthCheck(pb.HealthCheckRequest(), timeout=5)
                assert info.value.code() is grpc.StatusCode.UNAVAILABLE
