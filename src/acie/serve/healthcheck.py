"""``python -m acie.serve.healthcheck``: ask a server's standard gRPC health service.

The container image's ``HEALTHCHECK`` and the Kubernetes exec probes of the production
overlay run it (kubelet's own ``grpc`` probe speaks plaintext only, and production serves
TLS). It connects to ``127.0.0.1:GRPC_PORT``; when ``TLS_CERT_FILE`` is set it speaks TLS,
trusting ``TLS_CA_FILE`` (else ``TLS_CLIENT_CA_FILE``, the one internal CA) and presenting
the server's own certificate and key as its client identity (mutual TLS). Exit status 0
when the service reports SERVING, 1 otherwise (with one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["check", "main"]


def check(
    target: str,
    *,
    service: str = "",
    timeout_s: float = 3.0,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    ca_file: Path | None = None,
    server_name: str | None = None,
) -> str:
    """The serving status name (``"SERVING"``, ``"NOT_SERVING"`` …) of ``service`` at ``target``.

    Parameters
    ----------
    target : str
        ``host:port`` of the gRPC server.
    service : str
        Health service name (``""``: the server as a whole).
    timeout_s : float
        Deadline of the call, seconds.
    cert_file, key_file, ca_file : Path, optional
        TLS: client certificate and key (mutual TLS) and the CA that signed the server.
    server_name : str, optional
        Name expected in the server certificate (default: the target host).
    """
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    if ca_file is not None:
        creds = grpc.ssl_channel_credentials(
            root_certificates=ca_file.read_bytes(),
            private_key=key_file.read_bytes() if key_file else None,
            certificate_chain=cert_file.read_bytes() if cert_file else None,
        )
        channel = grpc.secure_channel(target, creds, options=options)
    else:
        channel = grpc.insecure_channel(target)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status))


def _path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def main(argv: list[str] | None = None) -> int:
    """Command line entry: exit 0 when SERVING, 1 otherwise."""
    p = argparse.ArgumentParser(prog="python -m acie.serve.healthcheck", description=__doc__)
    p.add_argument("--target", default=f"127.0.0.1:{os.environ.get('GRPC_PORT', '50051')}")
    p.add_argument("--service", default="")
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--server-name", default=os.environ.get("TLS_SERVER_NAME") or None)
    args = p.parse_args(argv)
    cert, key = _path("TLS_CERT_FILE"), _path("TLS_KEY_FILE")
    ca = _path("TLS_CA_FILE") or _path("TLS_CLIENT_CA_FILE")
    if cert is not None and ca is None:
        ca = cert  # a self-signed server certificate is its own root
    try:
        status = check(
            args.target,
            service=args.service,
            timeout_s=args.timeout,
            cert_file=cert,
            key_file=key,
            ca_file=ca,
            server_name=args.server_name,
        )
    except Exception as exc:  # any failure is "unhealthy", said in one line
        code = getattr(exc, "code", None)
        if callable(code) and callable(getattr(exc, "details", None)):  # a gRPC error
            why = f"{code().name}: {exc.details()}"  # type: ignore[attr-defined]
        else:
            why = f"{type(exc).__name__}: {exc}"
        print(f"unhealthy: {args.target}: {' '.join(why.split())}", file=sys.stderr)
        return 1
    if status != "SERVING":
        print(f"unhealthy: {args.target} reports {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
