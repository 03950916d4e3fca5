"""Schemathesis against the published OpenAPI document of a live server: no 5xx, ever.

Bounded: a fixed number of generated examples per operation (hypothesis settings),
derandomised so the run is reproducible. Requests carry a valid admin token, so the
generated bodies reach the handlers instead of stopping at authentication.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

MAX_EXAMPLES = 15


@pytest.fixture(scope="module")
def fuzz_server(tiny_engine, tmp_path_factory):
    from acie.config import load_settings
    from acie.serve.server import Server, build_runtime

    d = tmp_path_factory.mktemp("fuzz")
    s = load_settings(
        ACIE_DATA_DIR=d,
        JWT_SECRET="test-secret-" + "x" * 40,
        ACIE_DATABASE_URL=f"sqlite:///{d / 'acie.sqlite3'}",
        RATE_LIMIT_PER_MINUTE=1_000_000,
        REQUEST_TIMEOUT_S=10.0,
    )
    srv = Server(build_runtime(s, model=tiny_engine)).start()
    yield srv
    srv.stop(grace_s=0.5)


def test_no_server_errors(fuzz_server):
    from acie.serve.auth import mint_token

    spec = httpx.get(f"{fuzz_server.http_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    tok = mint_token(subject="fuzzer", role="admin", secret="test-secret-" + "x" * 40)
    headers = {"Authorization": f"Bearer {tok}"}
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tested.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(
                base_url=fuzz_server.http_url,
                headers=headers,
                checks=[not_a_server_error, status_code_conformance],
                timeout=30,
            )

        check()
    assert {
        "POST /v1/counterfactual",
        "POST /v1/jobs",
        "GET /v1/jobs/{job_id}",
        "POST /v1/search",
        "POST /v1/blind/infer",
    } <= set(tested)
