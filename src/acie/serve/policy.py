"""What ``ACIE_ENV=production`` (and ``staging``) refuses.

In ``development`` and ``test`` the server starts on anything, for a quick local run.
In ``production`` and ``staging`` (the same checks; staging exists so a deployment can be
rehearsed with production's rules before it takes traffic) it refuses, at start-up:

* a JWT secret generated into ``ACIE_DATA_DIR``: set ``JWT_SECRET`` or ``JWKS_FILE``;
* plaintext REST or gRPC: set ``TLS_CERT_FILE`` and ``TLS_KEY_FILE`` (or
  ``acie serve --tls-cert/--tls-key``);
* a ``PAILLIER_PUB_KEY`` under 2048 bits;

and, per request, a blind-inference request under a Paillier key of fewer than 2048 bits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acie.errors import ConfigurationError

if TYPE_CHECKING:
    from acie.config import Settings
    from acie.privacy.paillier import PaillierPublicKey

__all__ = [
    "MIN_PRODUCTION_KEY_BITS",
    "check_jwt_secret",
    "check_transport",
    "client_key_bits_floor",
    "load_paillier_key",
]

#: smallest Paillier modulus accepted in production and staging, bits
MIN_PRODUCTION_KEY_BITS = 2048


def _strict(settings: Settings) -> bool:
    return settings.ACIE_ENV.strict


def check_jwt_secret(settings: Settings) -> None:
    """Refuse to generate or use a local JWT secret in production.

    Raises
    ------
    ConfigurationError
        ``ACIE_ENV`` is production or staging and neither ``JWT_SECRET`` nor ``JWKS_FILE``
        is set.
    """
    if _strict(settings) and settings.JWT_SECRET is None and settings.JWKS_FILE is None:
        raise ConfigurationError(
            f"ACIE_ENV={settings.ACIE_ENV.value} refuses a JWT secret generated into "
            "ACIE_DATA_DIR: set JWT_SECRET (HS256) or JWKS_FILE (RS256)"
        )


def check_transport(settings: Settings, *, http_tls: Any, grpc_tls: Any) -> None:
    """Refuse plaintext REST or gRPC in production.

    Raises
    ------
    ConfigurationError
        ``ACIE_ENV`` is production or staging and a listener has no TLS.
    """
    if not _strict(settings):
        return
    plain = [name for name, tls in (("REST", http_tls), ("gRPC", grpc_tls)) if tls is None]
    if plain:
        raise ConfigurationError(
            f"ACIE_ENV={settings.ACIE_ENV.value} refuses plaintext {' and '.join(plain)}: "
            "set TLS_CERT_FILE and TLS_KEY_FILE (or acie serve --tls-cert/--tls-key)"
        )


def client_key_bits_floor(settings: Settings) -> int | None:
    """The smallest Paillier key a blind-inference request may use (``None``: any)."""
    return MIN_PRODUCTION_KEY_BITS if _strict(settings) else None


def load_paillier_key(settings: Settings) -> PaillierPublicKey | None:
    """The client key of ``PAILLIER_PUB_KEY`` (``None`` when unset).

    Raises
    ------
    ConfigurationError
        The file cannot be read, the key lies outside ``BLIND_MIN_KEY_BITS`` to
        ``BLIND_MAX_KEY_BITS`` (every blind request under it would be refused), or
        (production, staging) it has fewer than 2048 bits.
    """
    path = settings.PAILLIER_PUB_KEY
    if path is None:
        return None
    from acie.privacy.paillier import PaillierPublicKey

    try:
        key = PaillierPublicKey.load(path)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"PAILLIER_PUB_KEY {str(path)!r} is not usable: {exc}") from exc
    lo, hi = settings.BLIND_MIN_KEY_BITS, settings.BLIND_MAX_KEY_BITS
    if not lo <= key.bits <= hi:
        bound = f"BLIND_MIN_KEY_BITS={lo}" if key.bits < lo else f"BLIND_MAX_KEY_BITS={hi}"
        raise ConfigurationError(
            f"the {key.bits}-bit Paillier key of PAILLIER_PUB_KEY {str(path)!r} is outside "
            f"the accepted range ({bound}): every blind request under it would be refused"
        )
    if _strict(settings) and key.bits < MIN_PRODUCTION_KEY_BITS:
        raise ConfigurationError(
            f"ACIE_ENV={settings.ACIE_ENV.value} refuses the {key.bits}-bit Paillier key of "
            f"PAILLIER_PUB_KEY {str(path)!r}: use at least {MIN_PRODUCTION_KEY_BITS} bits"
        )
    return key
