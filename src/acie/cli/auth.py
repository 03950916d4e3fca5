"""`acie auth`: API tokens for local use."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="API authentication: mint and inspect tokens for local use.", no_args_is_help=True
)


def _local_secret() -> tuple[str | None, str]:
    """``JWT_SECRET``, else the local secret (refused under ``ACIE_ENV=production``)."""
    from acie.config import get_settings
    from acie.serve.auth import load_or_create_local_secret
    from acie.serve.policy import check_jwt_secret

    settings = get_settings()
    if settings.JWT_SECRET is not None:
        return settings.JWT_SECRET.get_secret_value(), "JWT_SECRET"
    check_jwt_secret(settings)
    secret, created = load_or_create_local_secret(settings.ACIE_DATA_DIR)
    path = settings.ACIE_DATA_DIR / "jwt_secret"
    return secret, f"{path} ({'created now' if created else 'local secret'})"


@app.command()
def token(
    sub: str = typer.Option(..., "--sub", help="user id (the token's 'sub' claim)"),
    role: str = typer.Option("researcher", help="researcher, collaborator or admin"),
    scope: list[str] = typer.Option(
        ["inference:read", "inference:write"], "--scope", help="granted scope; repeat for several"
    ),
    ttl: float = typer.Option(3600.0, help="lifetime in seconds"),
    private_key: Path | None = typer.Option(
        None,
        help="RSA private key (PEM) for an RS256 "
        "token; default: HS256 with JWT_SECRET or the "
        "local secret in ACIE_DATA_DIR",
    ),
    kid: str | None = typer.Option(None, help="key id of the RS256 key in the JWKS"),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="print JSON: token, claims, expiry (expires_at in Unix seconds, ttl_s in seconds)",
    ),
) -> None:
    """Mint a token that `acie serve` on this machine accepts."""
    from acie.config import get_settings
    from acie.serve.auth import Role, mint_token

    settings = get_settings()
    try:
        role_value = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"role must be one of {[r.value for r in Role]}; got {role!r}"
        ) from None
    now = time.time()
    if private_key is not None:
        signing: dict[str, Any] = {"private_key": private_key.read_bytes(), "kid": kid}
        source = f"RS256 key {private_key}"
    else:
        secret, source = _local_secret()
        signing = {"secret": secret}
    tok = mint_token(
        subject=sub,
        role=role_value,
        scopes=scope,
        audience=settings.JWT_AUDIENCE,
        issuer=settings.JWT_ISSUER,
        ttl_s=ttl,
        now=now,
        **signing,
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "token": tok,
                    "sub": sub,
                    "role": role_value.value,
                    "scopes": sorted(scope),
                    "expires_at": int(now + ttl),
                    "ttl_s": ttl,
                    "signed_with": source,
                }
            )
        )
    else:
        typer.echo(tok)


@app.command()
def verify(tok: str = typer.Argument(..., metavar="TOKEN", help="the token to check")) -> None:
    """Check a token against this machine's settings and print who it is for."""
    from acie.config import get_settings
    from acie.serve.auth import TokenVerifier

    settings = get_settings()
    secret = None
    if settings.JWT_SECRET is None and settings.JWKS_FILE is None:
        secret, _ = _local_secret()
    principal = TokenVerifier.from_settings(settings, secret=secret).verify(tok)
    typer.echo(
        json.dumps(
            {
                "sub": principal.subject,
                "role": principal.role.value,
                "scopes": sorted(principal.scopes),
            }
        )
    )
