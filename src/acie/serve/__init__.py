"""acie.serve: the inference service (REST + gRPC + job worker), auth, limits, metrics.

The public API (FastAPI, uvicorn and grpc are imported on first use, so ``acie auth``
stays quick)::

    Server, build_runtime    server.py        REST + gRPC + worker in one process
    ServingRuntime           runtime.py       what the three parts share
    create_app               app.py           the FastAPI app (routes in routes/, middleware.py)
    require                  deps.py          auth dependency of the routes and extra routers
    GrpcServer               grpc_server.py   InferenceService, auth interceptor, health
    TlsConfig                tls.py           TLS of REST and gRPC
    InferenceCore            inference.py     validation, admission, micro-batching, timeouts
    TokenVerifier, mint_token, Principal, Role, Action,
    SCOPE_INFERENCE_READ, SCOPE_INFERENCE_WRITE, SCOPE_OPS_READ      auth.py
    MemoryRateLimiter, RedisRateLimiter, AddressLimits              ratelimit.py
    ServiceMetrics           metrics.py       Prometheus registry of one server
    BlindLayer               blind.py         the served blind-inference layer

See ``docs/serving.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names __getattr__ loads, for type checkers and IDEs
    from acie.serve.app import create_app
    from acie.serve.auth import (
        SCOPE_INFERENCE_READ,
        SCOPE_INFERENCE_WRITE,
        SCOPE_OPS_READ,
        Action,
        Principal,
        Role,
        TokenVerifier,
        mint_token,
    )
    from acie.serve.blind import BlindLayer
    from acie.serve.deps import require
    from acie.serve.grpc_server import GrpcServer
    from acie.serve.inference import InferenceCore
    from acie.serve.metrics import ServiceMetrics
    from acie.serve.ratelimit import AddressLimits, MemoryRateLimiter, RedisRateLimiter
    from acie.serve.runtime import ServingRuntime
    from acie.serve.server import Server, build_runtime
    from acie.serve.tls import TlsConfig

__all__ = [
    "SCOPE_INFERENCE_READ",
    "SCOPE_INFERENCE_WRITE",
    "SCOPE_OPS_READ",
    "Action",
    "AddressLimits",
    "BlindLayer",
    "GrpcServer",
    "InferenceCore",
    "MemoryRateLimiter",
    "Principal",
    "RedisRateLimiter",
    "Role",
    "Server",
    "ServiceMetrics",
    "ServingRuntime",
    "TlsConfig",
    "TokenVerifier",
    "build_runtime",
    "create_app",
    "mint_token",
    "require",
]

_WHERE = {
    "SCOPE_INFERENCE_READ": "auth",
    "SCOPE_INFERENCE_WRITE": "auth",
    "SCOPE_OPS_READ": "auth",
    "Action": "auth",
    "Principal": "auth",
    "Role": "auth",
    "TokenVerifier": "auth",
    "mint_token": "auth",
    "BlindLayer": "blind",
    "GrpcServer": "grpc_server",
    "TlsConfig": "tls",
    "InferenceCore": "inference",
    "MemoryRateLimiter": "ratelimit",
    "RedisRateLimiter": "ratelimit",
    "AddressLimits": "ratelimit",
    "Server": "server",
    "build_runtime": "server",
    "ServiceMetrics": "metrics",
    "ServingRuntime": "runtime",
    "create_app": "app",
    "require": "deps",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    if name in _WHERE:
        value = getattr(import_module(f"acie.serve.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'acie.serve' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
