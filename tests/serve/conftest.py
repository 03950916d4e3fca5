"""Fixtures of the serving tests: a tiny untrained deep SCM, a live server on free ports.

The model is a real :class:`acie.deepscm.engine.CounterfactualEngine` built through the
deep-SCM public API (config, scalers, checkpoint) with untrained, seeded weights on
16x16 images, so inference takes milliseconds. Its outputs are meaningless as science
but exercise every code path of the server: shape and name validation, physics scores
and refusals, confidences, model versions.

Servers are built exactly as ``acie serve`` builds them: :class:`acie.serve.server.Server`
over :func:`acie.serve.app.create_app` (the one app factory, ops report mounted).
"""

from __future__ import annotations

import base64
import threading

import numpy as np
import pytest

SECRET = "test-secret-" + "x" * 40
IMAGE_SHAPE = (1, 16, 16)
# a tolerance no untrained model can miss: requests that must succeed use it
LOOSE_TOLERANCE = 1e9


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """Path of the tiny untrained checkpoint (16x16 images, seeded weights)."""
    from tests.serve.engine64 import write_tiny_checkpoint

    return write_tiny_checkpoint(
        tmp_path_factory.mktemp("model") / "tiny.pt",
        image_shape=IMAGE_SHAPE,
        seed=0,
        n=256,
        purpose="acie serving tests (untrained)",
    )


@pytest.fixture(scope="session")
def tiny_engine(tiny_checkpoint):
    from acie.deepscm.engine import CounterfactualEngine

    return CounterfactualEngine.from_checkpoint(tiny_checkpoint)


def _observation(n: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 10.0, size=(n, *IMAGE_SHAPE)).astype(np.float32)


def _tensor_json(arr: np.ndarray) -> dict:
    a = np.ascontiguousarray(arr, dtype="<f4")
    return {
        "shape": list(a.shape),
        "dtype": "float32",
        "data": base64.b64encode(a.tobytes()).decode(),
    }


@pytest.fixture
def make_obs():
    """``make_obs(n=1, seed=0)``: positive float32 images (n, 1, 16, 16) for the tiny model."""
    return _observation


@pytest.fixture
def tensor_json():
    """``tensor_json(array)``: the REST JSON form of an array."""
    return _tensor_json


@pytest.fixture
def settings_factory(tmp_path, monkeypatch):
    from acie.config import load_settings

    def make(**overrides):
        base = dict(
            ACIE_DATA_DIR=tmp_path / "data",
            JWT_SECRET=SECRET,
            ACIE_DATABASE_URL=f"sqlite:///{tmp_path / 'acie.sqlite3'}",
            REDIS_URL=None,
            RATE_LIMIT_PER_MINUTE=100_000,
            WORKER_THREADS=2,
        )
        base.update(overrides)
        return load_settings(**base)

    return make


@pytest.fixture
def server_factory(tiny_engine, settings_factory):
    """Start servers (REST + gRPC + worker on free ports); all are stopped after the test."""
    from acie.serve.server import Server, build_runtime

    started = []

    def make(*, settings=None, grpc_tls=None, extra_routers=(), model=None, **overrides):
        s = settings or settings_factory(**overrides)
        rt = build_runtime(s, model=model or tiny_engine)
        srv = Server(rt, grpc_tls=grpc_tls, extra_routers=extra_routers).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop(grace_s=0.5)
    leftover = [t.name for t in threading.enumerate() if t.name.startswith("acie-worker")]
    assert not leftover, f"worker threads left running: {leftover}"


@pytest.fixture
def server(server_factory):
    return server_factory()


@pytest.fixture
def token():
    """Mint a token signed with the test secret (defaults: researcher with both scopes)."""
    from acie.serve.auth import mint_token

    def make(sub="alice", role="researcher", scopes=("inference:read", "inference:write"), **kw):
        return mint_token(subject=sub, role=role, scopes=scopes, secret=SECRET, **kw)

    return make


@pytest.fixture(scope="session")
def pki():
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate it signed,
    and a client certificate from an unrelated CA (all PEM bytes), made with cryptography."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def pem_key(k):
        return k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def ca(cn):
        k = key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(cn))
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(k, hashes.SHA256())
        )
        return k, cert

    def leaf(cn, ca_key, ca_cert, usage, san=None):
        k = key()
        b = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca_cert.subject)
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = b.sign(ca_key, hashes.SHA256())
        return pem_key(k), cert.public_bytes(serialization.Encoding.PEM)

    ca_key, ca_cert = ca("ACIE test CA")
    rogue_key, rogue_cert = ca("rogue CA")
    server_key, server_cert = leaf(
        "localhost",
        ca_key,
        ca_cert,
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client_key, client_cert = leaf("alice", ca_key, ca_cert, ExtendedKeyUsageOID.CLIENT_AUTH)
    rogue_client_key, rogue_client_cert = leaf(
        "mallory", rogue_key, rogue_cert, ExtendedKeyUsageOID.CLIENT_AUTH
    )
    return {
        "ca": ca_cert.public_bytes(serialization.Encoding.PEM),
        "server_key": server_key,
        "server_cert": server_cert,
        "client_key": client_key,
        "client_cert": client_cert,
        "rogue_client_key": rogue_client_key,
        "rogue_client_cert": rogue_client_cert,
    }
