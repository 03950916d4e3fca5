"""Token verification, scopes and roles (no server needed)."""

from __future__ import annotations

import base64
import json
import stat
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from acie.errors import AuthenticationError, AuthorizationError, ConfigurationError
from acie.serve.auth import (
    SCOPE_INFERENCE_READ,
    SCOPE_INFERENCE_WRITE,
    Action,
    Principal,
    Role,
    TokenVerifier,
    authorize,
    can_read_job,
    load_or_create_local_secret,
    mint_token,
)

SECRET = "s" * 48
BOTH = (SCOPE_INFERENCE_READ, SCOPE_INFERENCE_WRITE)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(key, kid="k1"):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig", alg="RS256")
    return {"keys": [jwk]}


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_hs256_token_round_trip():
    v = TokenVerifier(audience="acie", issuer="acie", hs256_secret=SECRET)
    p = v.verify(
        mint_token(
            subject="alice", role="collaborator", scopes=[SCOPE_INFERENCE_READ], secret=SECRET
        )
    )
    assert p == Principal(
        subject="alice", role=Role.collaborator, scopes=frozenset({SCOPE_INFERENCE_READ})
    )


def test_rs256_token_with_jwks(rsa_key):
    v = TokenVerifier(audience="acie", jwks=_jwks(rsa_key))
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    p = v.verify(mint_token(subject="bob", private_key=pem, kid="k1"))
    assert p.subject == "bob"
    assert p.role is Role.researcher
    assert p.scopes == frozenset(BOTH)


def test_scp_list_claim_is_read_as_scopes():
    v = TokenVerifier(audience="acie", hs256_secret=SECRET)
    tok = jwt.encode(
        {"sub": "a", "aud": "acie", "exp": time.time() + 60, "scp": [SCOPE_INFERENCE_WRITE]},
        SECRET,
        algorithm="HS256",
    )
    assert v.verify(tok).scopes == frozenset({SCOPE_INFERENCE_WRITE})


# -- token attacks ------------------------------------------------------------------------


def test_alg_none_is_refused():
    v = TokenVerifier(audience="acie", hs256_secret=SECRET)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'sub': 'mallory', 'aud': 'acie', 'exp': time.time() + 60, 'role': 'admin', 'scope': ' '.join(BOTH)})}."
    with pytest.raises(AuthenticationError, match="algorithm"):
        v.verify(unsigned)


def test_expired_token_is_refused():
    v = TokenVerifier(audience="acie", hs256_secret=SECRET)
    tok = mint_token(subject="alice", secret=SECRET, ttl_s=10, now=time.time() - 3600)
    with pytest.raises(AuthenticationError, match="expired"):
        v.verify(tok)


def test_wrong_audience_is_refused():
    v = TokenVerifier(audience="acie", hs256_secret=SECRET)
    with pytest.raises(AuthenticationError, match="audience"):
        v.verify(mint_token(subject="alice", secret=SECRET, audience="someone-else"))


def test_forged_signature_is_refused():
    v = TokenVerifier(audience="acie", hs256_secret=SECRET)
    forged = mint_token(subject="alice", role="admin", secret="f" * 48)
    with pytest.raises(AuthenticationError, match="signature"):
        v.verify(forged)
    # a valid token whose payload was edited keeps its old signature: also refused
    good = mint_token(subject="alice", secret=SECRET)
    head, _, sig = good.split(".")
    tampered = f"{head}.{_b64({'sub': 'alice', 'aud': 'acie', 'exp': time.time() + 60, 'role': 'admin'})}.{sig}"
    with pytest.raises(AuthenticationError):
        v.verify(tampered)


def test_rsa_public_key_used_as_hmac_secret_is_refused(rsa_key):
    """Algorithm confusion: an HS256 token 'signed' with the server's public key."""
    v = TokenVerifier(audience="acie", jwks=_jwks(rsa_key))
    pub = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac

    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64({"sub": "m", "aud": "acie", "exp": time.time() + 60, "role": "admin"})
    sig = (
        base64.urlsafe_b64encode(
            hmac.new(pub, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(AuthenticationError, match="algorithm"):
        v.verify(f"{header}.{payload}.{sig}")


@pytest.mark.parametrize("missing", ["exp", "aud", "sub"])
def test_required_claims(missing):
    v = TokenVerifier(audience="acie", hs256_secret=SECRET)
    claims = {"sub": "a", "aud": "acie", "exp": time.time() + 60}
    del claims[missing]
    with pytest.raises(AuthenticationError):
        v.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "a.b.c"])
def test_missing_or_garbage_token(token):
    v = TokenVerifier(audience="acie", hs256_secret=SECRET)
    with pytest.raises(AuthenticationError):
        v.verify(token)


def test_unknown_role_and_wrong_issuer_are_refused():
    v = TokenVerifier(audience="acie", issuer="acie", hs256_secret=SECRET)
    with pytest.raises(AuthenticationError, match="role"):
        v.verify(
            jwt.encode(
                {"sub": "a", "aud": "acie", "exp": time.time() + 60, "role": "root"},
                SECRET,
                algorithm="HS256",
            )
        )
    with pytest.raises(AuthenticationError, match="issuer"):
        v.verify(mint_token(subject="a", secret=SECRET, issuer="evil"))


def test_unknown_kid_is_refused(rsa_key):
    v = TokenVerifier(audience="acie", jwks=_jwks(rsa_key, kid="k1"))
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(AuthenticationError, match="key id"):
        v.verify(mint_token(subject="a", private_key=pem, kid="other"))


def test_verifier_configuration_errors():
    with pytest.raises(ConfigurationError, match="neither"):
        TokenVerifier(audience="acie")
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        TokenVerifier(audience="acie", hs256_secret="short")
    with pytest.raises(ConfigurationError):
        TokenVerifier(audience="acie", jwks={"keys": [{"kty": "oct", "k": "AAAA"}]})
    with pytest.raises(ConfigurationError, match="exactly one"):
        mint_token(subject="a")


# -- scopes and roles ---------------------------------------------------------------------


def _p(role, scopes=BOTH, sub="u"):
    return Principal(subject=sub, role=Role(role), scopes=frozenset(scopes))


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        ("researcher", Action.submit, True),
        ("researcher", Action.read, True),
        ("collaborator", Action.submit, False),
        ("collaborator", Action.read, True),
        ("admin", Action.submit, True),
        ("admin", Action.read, True),
    ],
)
def test_role_rules(role, action, allowed):
    if allowed:
        authorize(_p(role), action)
    else:
        with pytest.raises(AuthorizationError, match=role):
            authorize(_p(role), action)


@pytest.mark.parametrize(
    ("scopes", "action"),
    [
        ((SCOPE_INFERENCE_READ,), Action.submit),
        ((SCOPE_INFERENCE_WRITE,), Action.read),
        ((), Action.read),
    ],
)
def test_missing_scope_is_refused_and_named(scopes, action):
    with pytest.raises(AuthorizationError) as info:
        authorize(_p("admin", scopes), action)
    needed = SCOPE_INFERENCE_WRITE if action is Action.submit else SCOPE_INFERENCE_READ
    assert needed in str(info.value)


def test_job_visibility():
    assert can_read_job(_p("researcher", sub="a"), owner="a", shared=False)
    assert not can_read_job(_p("researcher", sub="a"), owner="b", shared=True)
    assert not can_read_job(_p("collaborator", sub="c"), owner="a", shared=False)
    assert can_read_job(_p("collaborator", sub="c"), owner="a", shared=True)
    assert can_read_job(_p("admin", sub="z"), owner="a", shared=False)


def test_local_secret_is_created_once_private_and_reused(tmp_path):
    s1, created1 = load_or_create_local_secret(tmp_path / "d")
    s2, created2 = load_or_create_local_secret(tmp_path / "d")
    assert created1
    assert not created2
    assert s1 == s2
    assert len(s1) >= 32
    mode = stat.S_IMODE((tmp_path / "d" / "jwt_secret").stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["jwt_secret"]  # no temp files left
