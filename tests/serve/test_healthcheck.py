"""`python -m acie.serve.healthcheck` (the image's HEALTHCHECK and the production probes)."""

from acie.serve.healthcheck import main
from acie.serve.tls import TlsConfig


def test_serving_then_not_serving(server, monkeypatch, capsys):
    for name in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE", "TLS_CLIENT_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRPC_PORT", str(server.grpc_port))
    assert main([]) == 0
    server.grpc.set_serving(False)
    assert main([]) == 1
    assert "NOT_SERVING" in capsys.readouterr().err


def test_nothing_listening_is_unhealthy(monkeypatch, capsys):
    monkeypatch.delenv("TLS_CERT_FILE", raising=False)
    assert main(["--target", "127.0.0.1:1", "--timeout", "0.5"]) == 1
    assert capsys.readouterr().err.startswith("unhealthy: 127.0.0.1:1")


def test_tls_with_the_server_certificate(tiny_engine, settings_factory, pki, tmp_path, monkeypatch):
    from acie.serve.server import Server, build_runtime

    files = {}
    for key in ("server_cert", "server_key", "ca"):
        files[key] = tmp_path / f"{key}.pem"
        files[key].write_bytes(pki[key])
    tls = TlsConfig(certificate_chain=pki["server_cert"], private_key=pki["server_key"])
    srv = Server(build_runtime(settings_factory(), model=tiny_engine), grpc_tls=tls).start()
    try:
        monkeypatch.setenv("GRPC_PORT", str(srv.grpc_port))
        monkeypatch.setenv("TLS_CERT_FILE", str(files["server_cert"]))
        monkeypatch.setenv("TLS_KEY_FILE", str(files["server_key"]))
        monkeypatch.delenv("TLS_CLIENT_CA_FILE", raising=False)
        monkeypatch.setenv("TLS_SERVER_NAME", "localhost")
        monkeypatch.setenv("TLS_CA_FILE", str(tmp_path / "missing.pem"))
        assert main([]) == 1  # an unreadable trust root is unhealthy, not a crash
        monkeypatch.setenv("TLS_CA_FILE", str(files["ca"]))
        assert main([]) == 0
    finally:
        srv.stop(grace_s=0.5)
