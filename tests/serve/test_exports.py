"""The public surface of acie.serve and acie.client is pinned (and resolves)."""

from __future__ import annotations

import subprocess
import sys

import acie.client
import acie.serve


def test_serve_public_surface():
    assert set(acie.serve.__all__) == {
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
    }
    for name in acie.serve.__all__:
        assert getattr(acie.serve, name) is not None


def test_client_public_surface():
    assert set(acie.client.__all__) == {
        "RETRYABLE",
        "CounterfactualAnswer",
        "GrpcClient",
        "RestClient",
        "RetryPolicy",
        "SearchHits",
        "error_for",
    }


def test_importing_auth_does_not_import_the_web_stack():
    code = (
        "import sys, acie.serve.auth; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'grpc', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
