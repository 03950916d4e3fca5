"""JWT authentication, scopes and roles, shared by the REST gateway and the gRPC interceptor.

Tokens are JSON Web Tokens checked with PyJWT:

- HS256 with the shared secret ``JWT_SECRET``, and/or
- RS256 with the public keys of a JWKS file (``JWKS_FILE``), chosen by the ``kid`` header.

Every token must carry ``exp``, ``aud`` (equal to ``JWT_AUDIENCE``) and ``sub``; ``iss`` is
checked when present. ``alg: none``, algorithms other than the configured ones, expired
tokens, a wrong audience and forged signatures are all refused with
:class:`~acie.errors.AuthenticationError`.

Authorisation is two checks, both of which must pass (:func:`authorize`):

- the **scope** an action needs (``inference:write`` to submit, ``inference:read`` to read),
  from the token's space-separated ``scope`` claim (or a ``scp`` list);
- the **role** (``role`` claim): ``researcher`` submits and sees their own results,
  ``collaborator`` sees results their owners shared but cannot submit, ``admin`` may do
  everything the API offers. No role can obtain decryption keys: the server never holds
  the private key of a blind-inference client.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from acie.errors import AuthenticationError, AuthorizationError, ConfigurationError

__all__ = [
    "SCOPE_INFERENCE_READ",
    "SCOPE_INFERENCE_WRITE",
    "SCOPE_OPS_READ",
    "Action",
    "Principal",
    "Role",
    "TokenVerifier",
    "authorize",
    "can_read_job",
    "load_or_create_local_secret",
    "mint_token",
]

SCOPE_INFERENCE_WRITE = "inference:write"
SCOPE_INFERENCE_READ = "inference:read"
SCOPE_OPS_READ = "ops:read"

#: shortest HS256 secret accepted, bytes (RFC 7518 §3.2: a key of at least the hash size)
MIN_SECRET_BYTES = 32


class Role(StrEnum):
    """What a caller may do, from the token's ``role`` claim."""

    researcher = "researcher"
    collaborator = "collaborator"
    admin = "admin"


class Action(StrEnum):
    """Operations of the API that authorisation distinguishes."""

    submit = "submit"  # counterfactual inference, jobs, blind inference
    read = "read"  # job results (ownership checked separately), models, search, listing
    ops = "ops"  # the operations report under /ops (when TELEMETRY_KEY is set)


_ACTION_SCOPE = {
    Action.submit: SCOPE_INFERENCE_WRITE,
    Action.read: SCOPE_INFERENCE_READ,
    Action.ops: SCOPE_OPS_READ,
}
_ROLE_ACTIONS = {  # ops: any role holding the scope (operators are not a role)
    Role.researcher: frozenset({Action.submit, Action.read, Action.ops}),
    Role.collaborator: frozenset({Action.read, Action.ops}),
    Role.admin: frozenset({Action.submit, Action.read, Action.ops}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    Parameters
    ----------
    subject : str
        The token's ``sub`` claim: the user id that owns jobs and rate-limit buckets.
    role : Role
        The token's ``role`` claim.
    scopes : frozenset of str
        The granted scopes.
    expires_at : float or None
        The token's ``exp`` (Unix seconds); long-lived calls (gRPC streams) re-check it.
    """

    subject: str
    role: Role
    scopes: frozenset[str]
    expires_at: float | None = field(default=None, compare=False)

    def check_expiry(self, now: float | None = None, leeway_s: float = 0.0) -> None:
        """Raise :class:`AuthenticationError` once the token has expired."""
        if self.expires_at is not None and (now or time.time()) > self.expires_at + leeway_s:
            raise AuthenticationError("the token has expired")


def authorize(principal: Principal, action: Action) -> None:
    """Raise :class:`AuthorizationError` unless ``principal`` may perform ``action``.

    The message names the missing scope or the role that is not allowed.
    """
    scope = _ACTION_SCOPE[action]
    if scope not in principal.scopes:
        raise AuthorizationError(
            f"{action.value} needs the scope {scope!r}; the token grants "
            f"{sorted(principal.scopes) or 'no scopes'}"
        )
    if action not in _ROLE_ACTIONS[principal.role]:
        raise AuthorizationError(
            f"the role {principal.role.value!r} may not {action.value}; "
            f"roles that may: {[r.value for r, a in _ROLE_ACTIONS.items() if action in a]}"
        )


def can_read_job(principal: Principal, *, owner: str, shared: bool) -> bool:
    """Whether ``principal`` may see a job owned by ``owner`` (read scope checked separately).

    Researchers see their own jobs, collaborators see shared jobs, admins see all.
    """
    if principal.role is Role.admin:
        return True
    if principal.role is Role.researcher:
        return owner == principal.subject
    return shared


def _scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope", "")
    scp = claims.get("scp", [])
    if not isinstance(scope, str) or not isinstance(scp, list):
        raise AuthenticationError(
            "the token's 'scope' must be a space-separated string and 'scp' a list; "
            f"got scope={scope!r}, scp={scp!r}"
        )
    return frozenset(scope.split()) | frozenset(str(s) for s in scp)


class TokenVerifier:
    """Verify bearer tokens and turn them into :class:`Principal` objects.

    Parameters
    ----------
    audience : str
        Required ``aud`` claim.
    issuer : str or None
        Required ``iss`` when the token carries one (``None``: not checked).
    hs256_secret : str or None
        Shared secret for HS256 tokens.
    jwks : Mapping or None
        A JWKS document (``{"keys": [...]}``) with the RSA public keys of RS256 tokens.
    leeway_s : float
        Clock skew allowed on ``exp``/``nbf``, seconds.
    """

    def __init__(
        self,
        *,
        audience: str,
        issuer: str | None = None,
        hs256_secret: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        leeway_s: float = 0.0,
    ) -> None:
        if hs256_secret is None and jwks is None:
            raise ConfigurationError(
                "token verification needs JWT_SECRET (HS256) or JWKS_FILE (RS256); got neither"
            )
        if hs256_secret is not None and len(hs256_secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes; "
                f"got {len(hs256_secret.encode())}"
            )
        self.audience = audience
        self.issuer = issuer
        self.leeway_s = leeway_s
        self._secret = hs256_secret
        self._rsa_keys: dict[str | None, Any] = {}
        if jwks is not None:
            try:
                keyset = jwt.PyJWKSet.from_dict(dict(jwks))
            except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
                raise ConfigurationError(f"JWKS is not a valid key set: {exc}") from exc
            for key in keyset.keys:
                if key.key_type == "RSA":
                    self._rsa_keys[key.key_id] = key.key
            if not self._rsa_keys:
                raise ConfigurationError("the JWKS must hold at least one RSA key; got none")
        self.algorithms = (["HS256"] if self._secret else []) + (
            ["RS256"] if self._rsa_keys else []
        )

    @classmethod
    def from_settings(cls, settings: Any, *, secret: str | None = None) -> TokenVerifier:
        """Build from :class:`acie.config.Settings` (``secret`` overrides ``JWT_SECRET``)."""
        if secret is None and settings.JWT_SECRET is not None:
            secret = settings.JWT_SECRET.get_secret_value()
        jwks = None
        if settings.JWKS_FILE is not None:
            try:
                jwks = json.loads(Path(settings.JWKS_FILE).read_text())
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"JWKS_FILE {str(settings.JWKS_FILE)!r} cannot be read as JSON: {exc}"
                ) from exc
        return cls(
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            hs256_secret=secret,
            jwks=jwks,
        )

    def verify(self, token: str | None) -> Principal:
        """Check ``token`` and return its principal, or raise :class:`AuthenticationError`."""
        if not token:
            raise AuthenticationError("a bearer token is required; got none")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"the token is not a well-formed JWT: {exc}") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise AuthenticationError(
                f"the token's algorithm must be one of {self.algorithms}; got {alg!r}"
            )
        if alg == "HS256":
            key: Any = self._secret
        else:
            kid = header.get("kid")
            if kid in self._rsa_keys:
                key = self._rsa_keys[kid]
            elif kid is None and len(self._rsa_keys) == 1:
                key = next(iter(self._rsa_keys.values()))
            else:
                raise AuthenticationError(
                    f"the token's key id must be one of {sorted(map(str, self._rsa_keys))}; "
                    f"got {kid!r}"
                )
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                leeway=self.leeway_s,
                options={"require": ["exp", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError(f"the token's audience must be {self.audience!r}") from None
        except jwt.InvalidSignatureError:
            raise AuthenticationError("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"the token is not valid: {exc}") from None
        if self.issuer and "iss" in claims and claims["iss"] != self.issuer:
            raise AuthenticationError(
                f"the token's issuer must be {self.issuer!r}; got {claims['iss']!r}"
            )
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise AuthenticationError(f"the token's 'sub' must be a non-empty string; got {sub!r}")
        try:
            role = Role(claims.get("role", Role.researcher.value))
        except ValueError:
            raise AuthenticationError(
                f"the token's 'role' must be one of {[r.value for r in Role]}; "
                f"got {claims.get('role')!r}"
            ) from None
        exp = claims.get("exp")
        return Principal(
            subject=sub,
            role=role,
            scopes=_scopes_of(claims),
            expires_at=float(exp) if isinstance(exp, int | float) else None,
        )


def mint_token(
    *,
    subject: str,
    role: Role | str = Role.researcher,
    scopes: Iterable[str] = (SCOPE_INFERENCE_READ, SCOPE_INFERENCE_WRITE),
    audience: str = "acie",
    issuer: str | None = "acie",
    ttl_s: float = 3600.0,
    secret: str | None = None,
    private_key: Any = None,
    kid: str | None = None,
    now: float | None = None,
) -> str:
    """Sign a token for local use: HS256 with ``secret`` or RS256 with ``private_key``.

    Parameters
    ----------
    subject : str
        ``sub`` claim (user id).
    role : Role or str
        ``role`` claim.
    scopes : iterable of str
        Granted scopes, written space-separated into ``scope``.
    ttl_s : float
        Lifetime, seconds; ``exp = now + ttl_s``.
    secret, private_key, kid
        Signing key: exactly one of an HS256 secret or an RSA private key (PEM or key object).
    """
    if (secret is None) == (private_key is None):
        raise ConfigurationError("mint_token needs exactly one of secret or private_key")
    role = Role(role)
    issued = time.time() if now is None else now
    claims: dict[str, Any] = {
        "sub": subject,
        "aud": audience,
        "role": role.value,
        "scope": " ".join(sorted(scopes)),
        "iat": int(issued),
        "exp": int(issued + ttl_s),
        "jti": secrets.token_hex(8),
    }
    if issuer:
        claims["iss"] = issuer
    if secret is not None:
        return jwt.encode(claims, secret, algorithm="HS256")
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, private_key, algorithm="RS256", headers=headers)


def load_or_create_local_secret(data_dir: Path) -> tuple[str, bool]:
    """The HS256 secret kept in ``data_dir/jwt_secret``, created (mode 0600) if missing.

    Returns
    -------
    secret : str
    created : bool
        Whether this call generated it.
    """
    path = Path(data_dir) / "jwt_secret"
    if path.exists():
        secret = path.read_text().strip()
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"{str(path)!r} must hold a secret of at least {MIN_SECRET_BYTES} bytes; "
                f"got {len(secret.encode())}"
            )
        return secret, False
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".jwt_secret.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
        try:
            os.link(tmp, path)  # atomic and refuses to overwrite a secret another process made
        except FileExistsError:
            return load_or_create_local_secret(data_dir)[0], False
    finally:
        os.unlink(tmp)
    return secret, True
