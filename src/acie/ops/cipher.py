"""The telemetry line cipher: AES-GCM keys from the environment, bound to a stream."""

from __future__ import annotations

import os
from pathlib import Path

from acie.errors import ConfigurationError
from acie.ops.telemetry_file import default_stream_id

__all__ = ["TELEMETRY_KEY_ENV", "codec_for"]

TELEMETRY_KEY_ENV = "TELEMETRY_KEY"


def codec_for(
    path: Path | str,
    *,
    key: str | None = None,
    stream_id: str | None = None,
    required: bool = False,
):  # -> acie.privacy.aead.LineCipher | None
    """The per-line cipher for the telemetry file ``path``, or ``None`` without a key.

    ``key`` is a keyring spec in base64 (one key, or ``"kid1:b64,kid2:b64"`` for rotation,
    the first encrypting); by default it is read from ``TELEMETRY_KEY``. The stream id,
    bound into every line, defaults to the file name without ``.gz``.
    """
    spec = key if key is not None else os.environ.get(TELEMETRY_KEY_ENV)
    if not spec:
        if required:
            raise ConfigurationError(
                f"{TELEMETRY_KEY_ENV} must hold a base64 AES key for encrypted telemetry; it is not set"
            )
        return None
    from acie.privacy.aead import Keyring, LineCipher

    try:
        keyring = Keyring.from_base64(spec)
    except ValueError as exc:
        raise ConfigurationError(f"{TELEMETRY_KEY_ENV} is not a valid keyring spec: {exc}") from exc
    return LineCipher(keyring, stream_id=stream_id or default_stream_id(path))
