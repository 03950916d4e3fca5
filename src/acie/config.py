"""One settings object for the whole platform.

Values come from, in order of precedence: keyword arguments, environment variables,
an optional settings file (``ACIE_SETTINGS_FILE``, YAML or JSON), then defaults.
Environment variable names are the ones an operator expects (``LOG_LEVEL``,
``PHYSICS_TOLERANCE`` …), listed in ``docs/configuration.md``.

Feature flags live in a separate file (``FLAGS_FILE``) and are re-read when the file
changes, so an operator can flip one without restarting the service.
"""

from __future__ import annotations

import json
import os
import threading
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from acie.errors import ConfigurationError


class Environment(StrEnum):
    """``ACIE_ENV``: ``production`` and ``staging`` refuse insecure serving configurations."""

    development = "development"
    test = "test"
    staging = "staging"
    production = "production"

    @property
    def strict(self) -> bool:
        """Whether the production checks apply (``production`` and ``staging``)."""
        return self in (Environment.staging, Environment.production)


class LogLevel(StrEnum):
    """Threshold of the service's log records (``LOG_LEVEL``), as the :mod:`logging` names."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def default_data_dir() -> Path:
    """Where embedded backends keep their files (``ACIE_DATA_DIR``, else ``~/.acie``)."""
    return Path(os.environ.get("ACIE_DATA_DIR", Path.home() / ".acie"))


class Settings(BaseSettings):
    """Platform settings; every field maps to the environment variable of the same name."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    ACIE_ENV: Environment = Environment.development
    LOG_LEVEL: LogLevel = LogLevel.INFO
    ACIE_DATA_DIR: Path = Field(default_factory=default_data_dir)

    # compute
    WORKER_THREADS: int = Field(default=2, ge=1, le=1024)
    ENABLE_CUDA: bool = False

    # physics checks of counterfactuals
    PHYSICS_TOLERANCE: float = Field(default=0.05, gt=0.0)
    PHYSICS_STEPS: int = Field(default=50, ge=0, le=100_000)
    # the largest physics_steps a request may ask for
    MAX_STEPS: int = Field(default=1000, ge=1, le=100_000)

    # security
    JWT_SECRET: SecretStr | None = None
    JWT_AUDIENCE: str = "acie"
    JWT_ISSUER: str = "acie"
    JWKS_FILE: Path | None = None
    PAILLIER_PUB_KEY: Path | None = None  # blind inference accepts only this client key
    # blind inference: client Paillier key sizes accepted, randomness-pool cache bounds
    BLIND_MIN_KEY_BITS: int = Field(default=2048, ge=256, le=16384)
    BLIND_MAX_KEY_BITS: int = Field(default=4096, ge=256, le=16384)
    BLIND_POOL_MAX_KEYS: int = Field(default=32, ge=1, le=100_000)
    BLIND_POOL_MAX_BYTES: int = Field(default=32 * 2**20, ge=1024)
    TELEMETRY_KEY: SecretStr | None = None  # base64 AES-GCM key for ops telemetry lines
    WATERMARK_KEY: SecretStr | None = None  # default: generated into ACIE_DATA_DIR

    # backends
    ACIE_DATABASE_URL: str | None = None  # default: SQLite file in ACIE_DATA_DIR
    REDIS_URL: str | None = None  # default: embedded SQLite job queue
    VECTOR_BACKEND: str = "auto"  # auto | memory | pgvector
    DASK_SCHEDULER_ADDRESS: str | None = None  # heavy science on a Dask cluster (docs/scaling.md)

    # serving
    HOST: str = "127.0.0.1"
    HTTP_PORT: int = Field(default=8000, ge=0, le=65535)
    GRPC_PORT: int = Field(default=50051, ge=0, le=65535)
    TLS_CERT_FILE: Path | None = None  # server certificate chain (PEM), REST and gRPC
    TLS_KEY_FILE: Path | None = None  # its private key (PEM)
    TLS_CLIENT_CA_FILE: Path | None = None  # CA of client certificates: mutual TLS, both
    RATE_LIMIT_PER_MINUTE: int = Field(default=600, ge=1)
    # per client address, before any token is verified (docs/serving.md, "Limits")
    ADDRESS_RATE_LIMIT_PER_MINUTE: int = Field(default=6000, ge=1)
    AUTH_FAILURES_PER_MINUTE: int = Field(default=60, ge=1)
    AUDIT_AGGREGATE_WINDOW_S: float = Field(default=10.0, gt=0.0, le=3600.0)
    OPS_OPEN: bool = False  # /ops/* without a token even when TELEMETRY_KEY is set
    MAX_REQUEST_BYTES: int = Field(default=8 * 1024 * 1024, ge=1024)
    MAX_DATASET_BYTES: int = Field(default=2 * 1024**3, ge=1024)  # cube + catalogue upload
    REQUEST_TIMEOUT_S: float = Field(default=30.0, gt=0.0)
    QUEUE_MAX_DEPTH: int = Field(default=1000, ge=1)
    QUEUE_MAX_PER_USER: int = Field(default=100, ge=1)  # unfinished jobs per user
    JOB_MAX_ATTEMPTS: int = Field(default=5, ge=1)
    JOB_LEASE_S: float = Field(default=30.0, gt=0.0)
    JOB_STREAM_RETENTION_S: float = Field(default=3600.0, ge=0.0)  # acked Redis entries kept
    WS_MAX_WATCHERS_PER_USER: int = Field(default=16, ge=1)  # open progress WebSockets

    # explorer: browser sessions and system alerts (docs/explorer.md)
    SESSION_ACCESS_TTL_S: float = Field(default=900.0, gt=0.0, le=86400.0)
    SESSION_REFRESH_TTL_S: float = Field(default=43200.0, gt=0.0, le=30 * 86400.0)
    LOGIN_FAILURES_PER_USER_PER_MINUTE: int = Field(default=10, ge=1)
    ALERT_VIOLATION_RATE: float = Field(default=0.2, gt=0.0, le=1.0)  # refused / scored
    ALERT_VIOLATION_MIN_COUNT: int = Field(default=20, ge=1)  # scored calls before it fires
    ALERT_WINDOW_S: float = Field(default=300.0, gt=0.0)
    ALERT_QUEUE_DEPTH: int = Field(default=500, ge=1)
    ALERT_POLL_INTERVAL_S: float = Field(default=2.0, gt=0.0, le=3600.0)

    # OpenTelemetry traces (docs/deployment.md): on with OTEL_ENABLED or when
    # OTEL_EXPORTER_OTLP_ENDPOINT is set; the exporter reads the standard OTEL_* variables
    OTEL_ENABLED: bool = False

    # operations
    OPS_REFRESH_INTERVAL_S: float = Field(default=30.0, gt=0.0)
    OPS_TELEMETRY_FILES: str | None = None  # comma-separated paths or globs for /ops/report

    # feature flags
    FLAGS_FILE: Path | None = None

    # audit anchors (docs/platform.md, "Audit log"): the signed head `acie serve` exports
    AUDIT_ANCHOR_FILE: Path | None = None  # where the head is written (unset: not exported)
    AUDIT_ANCHOR_KEY_FILE: Path | None = None  # Ed25519 private key (PEM) that signs it
    AUDIT_ANCHOR_PUBLIC_KEY_FILE: Path | None = None  # the key that verifies anchors
    AUDIT_ANCHOR_INTERVAL_S: float = Field(default=60.0, gt=0.0)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.PHYSICS_STEPS > self.MAX_STEPS:
            raise ValueError(
                f"PHYSICS_STEPS ({self.PHYSICS_STEPS}) must be at most MAX_STEPS ({self.MAX_STEPS})"
            )
        if (self.TLS_CERT_FILE is None) != (self.TLS_KEY_FILE is None):
            raise ValueError("TLS_CERT_FILE and TLS_KEY_FILE go together; got only one")
        if self.TLS_CLIENT_CA_FILE is not None and self.TLS_CERT_FILE is None:
            raise ValueError("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE")
        if self.BLIND_MIN_KEY_BITS > self.BLIND_MAX_KEY_BITS:
            raise ValueError(
                f"BLIND_MIN_KEY_BITS ({self.BLIND_MIN_KEY_BITS}) must be at most "
                f"BLIND_MAX_KEY_BITS ({self.BLIND_MAX_KEY_BITS})"
            )
        return self

    def watermark_key(self) -> int:
        """The 64-bit watermark key: from ``WATERMARK_KEY``, else this installation's own.

        A set ``WATERMARK_KEY`` (any string) is hashed (SHA-256, first 8 bytes). Unset,
        the key is read from ``ACIE_DATA_DIR/watermark_key``, which is created with 32
        random bytes (mode 0600) on first use, like the development JWT secret.
        """
        import hashlib
        import secrets

        if self.WATERMARK_KEY is not None:
            secret = self.WATERMARK_KEY.get_secret_value().encode()
        else:
            path = Path(self.ACIE_DATA_DIR) / "watermark_key"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:  # another process created it first
                    pass
                else:
                    with os.fdopen(fd, "w") as f:
                        f.write(secrets.token_hex(32))
            secret = path.read_text().strip().encode()
            if not secret:
                raise ConfigurationError(
                    f"watermark key file {path} is empty: expected 64 hex characters; "
                    "delete it to generate a new key or set WATERMARK_KEY"
                )
        return int.from_bytes(hashlib.sha256(secret).digest()[:8], "big")

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL in force: ``ACIE_DATABASE_URL`` or the embedded SQLite file."""
        if self.ACIE_DATABASE_URL:
            return self.ACIE_DATABASE_URL
        return f"sqlite:///{self.ACIE_DATA_DIR / 'acie.sqlite3'}"


def _read_settings_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"ACIE_SETTINGS_FILE {str(path)!r} cannot be read: {exc}") from exc
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as exc:  # parse errors of either format
        raise ConfigurationError(f"ACIE_SETTINGS_FILE {str(path)!r} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"ACIE_SETTINGS_FILE {str(path)!r} must hold a mapping of settings; "
            f"got {type(data).__name__}"
        )
    return {str(k).upper(): v for k, v in data.items()}


def _format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "settings"
        lines.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build a :class:`Settings`, raising :class:`ConfigurationError` with readable messages."""
    file_values: dict[str, Any] = {}
    settings_file = os.environ.get("ACIE_SETTINGS_FILE")
    if settings_file:
        file_values = _read_settings_file(Path(settings_file))
        # the environment wins over the file: drop file values that the environment sets
        file_values = {k: v for k, v in file_values.items() if k not in os.environ}
    try:
        return Settings(**{**file_values, **overrides})
    except ValidationError as exc:
        raise ConfigurationError(_format_validation_error(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (call ``get_settings.cache_clear()`` to re-read)."""
    return load_settings()


class FeatureFlags:
    """Boolean feature flags from a JSON or YAML file, re-read whenever the file changes.

    A missing file means every flag takes its default. A malformed file raises
    :class:`ConfigurationError` on the read that finds it, and the last good flags stay
    in force for later reads (until the file changes), so a bad edit never takes a
    running service down.

    Parameters
    ----------
    path : path or None
        The flags file (``FLAGS_FILE``); ``None``: every flag at its default.
    defaults : dict of str to bool
        Values of flags the file does not name.
    """

    def __init__(self, path: Path | str | None, defaults: dict[str, bool] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.defaults = dict(defaults or {})
        self._flags: dict[str, bool] = {}
        self._mtime_ns: int | None = None
        self._lock = threading.Lock()

    def _reload_if_changed(self) -> None:
        if self.path is None:
            return
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self._flags, self._mtime_ns = {}, None
            return
        if mtime == self._mtime_ns:
            return
        # this version of the file is read once: a bad one raises here, and later reads
        # keep the last good flags until the file changes again
        self._mtime_ns = mtime
        data = _read_settings_file(self.path)
        bad = {k: v for k, v in data.items() if not isinstance(v, bool)}
        if bad:
            raise ConfigurationError(
                f"flags file {str(self.path)!r}: every flag must be true or false; got {bad!r}"
            )
        self._flags = {k.lower(): v for k, v in data.items()}

    def enabled(self, name: str) -> bool:
        """Whether the flag ``name`` is on (file value, else default, else ``False``)."""
        with self._lock:
            self._reload_if_changed()
            key = name.lower()
            return self._flags.get(key, self.defaults.get(key, False))

    def snapshot(self) -> dict[str, bool]:
        """All flags in force now."""
        with self._lock:
            self._reload_if_changed()
            return {**{k.lower(): v for k, v in self.defaults.items()}, **self._flags}
