"""Feature flags the server reads on every request, from ``FLAGS_FILE``.

The file (JSON or YAML, ``{"name": true|false}``) is re-read whenever it changes
(:class:`acie.config.FeatureFlags`), so an operator turns a feature off or on without a
restart. A feature that is off answers UNAVAILABLE (HTTP 503) with the flag's name.

================  =======  ===================================================
flag              default  what it switches
================  =======  ===================================================
blind_inference   on       ``POST /v1/blind/infer`` and ``GET /v1/blind/layer``
grpc_streaming    on       the gRPC ``StreamInference`` method
================  =======  ===================================================
"""

from __future__ import annotations

import logging

from acie.config import FeatureFlags, Settings
from acie.errors import BackendUnavailableError, ConfigurationError

__all__ = ["FEATURES", "open_flags", "require_feature"]

log = logging.getLogger("acie.serve.features")

#: the flags the server reads, with their defaults
FEATURES: dict[str, bool] = {"blind_inference": True, "grpc_streaming": True}


def open_flags(settings: Settings) -> FeatureFlags:
    """The flags of ``FLAGS_FILE`` (every flag at its default when the setting is unset)."""
    return FeatureFlags(settings.FLAGS_FILE, defaults=FEATURES)


def require_feature(flags: FeatureFlags | None, name: str) -> None:
    """Raise UNAVAILABLE unless the feature ``name`` is on now.

    ``flags`` ``None`` means every feature at its default.

    A malformed flags file is logged and the last good flags stay in force, so a bad
    edit never takes the server down.

    Raises
    ------
    BackendUnavailableError
        The flag is off.
    """
    if name not in FEATURES:
        raise ConfigurationError(f"unknown feature {name!r}; known: {', '.join(sorted(FEATURES))}")
    if flags is None:
        on = FEATURES[name]
    else:
        try:
            on = flags.enabled(name)
        except ConfigurationError as exc:
            log.error("feature flags not reloaded, the last good ones stay in force: %s", exc)
            on = flags.enabled(name)
    if not on:
        raise BackendUnavailableError(
            f"{name.replace('_', ' ')} is turned off on this server "
            f"(feature flag {name!r} in FLAGS_FILE)"
        )
