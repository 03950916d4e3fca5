"""Schemathesis against the published OpenAPI document of a live server: no 5xx, ever,
and every response as the document says (status code, content type, body schema).

The server is built as ``acie serve`` builds it (:func:`acie.serve.app.create_app`, the
ops report mounted), so the document fuzzed is the one users get.

Bounded, so that a loaded machine cannot stretch the run: a fixed number of generated
examples per operation, no hypothesis deadline, no shrinking (a failure is reported as
generated), ``MAX_STEPS`` small so no generated ``physics_steps`` asks for a long
projection, and a request timeout above ``REQUEST_TIMEOUT_S``. Derandomised, so the
run is reproducible. Hypothesis keeps its files (example database off; its caches) in a
temporary folder, never in the repository. Requests carry a valid admin token, so the
generated bodies reach the handlers instead of stopping at authentication; the
telemetry is encrypted (``TELEMETRY_KEY``), so ``/ops/*`` is fuzzed behind its guard with
a token that holds ``ops:read``.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 12
REQUEST_TIMEOUT_S = 60.0
SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="module")
def fuzz_server(tiny_engine, tmp_path_factory):
    from acie.config import load_settings
    from acie.serve.server import Server, build_runtime

    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    d = tmp_path_factory.mktemp("fuzz")
    s = load_settings(
        ACIE_DATA_DIR=d,
        JWT_SECRET=SECRET,
        ACIE_DATABASE_URL=f"sqlite:///{d / 'acie.sqlite3'}",
        RATE_LIMIT_PER_MINUTE=1_000_000,
        ADDRESS_RATE_LIMIT_PER_MINUTE=1_000_000,
        TELEMETRY_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        REQUEST_TIMEOUT_S=REQUEST_TIMEOUT_S,
        PHYSICS_STEPS=5,
        MAX_STEPS=20,
    )
    srv = Server(build_runtime(s, model=tiny_engine)).start()
    yield srv
    srv.stop(grace_s=0.5)
    set_hypothesis_home_dir(None)


def test_no_server_errors(fuzz_server):
    from acie.serve.auth import mint_token

    spec = httpx.get(f"{fuzz_server.http_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.validate()  # a valid OpenAPI document
    tok = mint_token(
        subject="fuzzer",
        role="admin",
        scopes=("inference:read", "inference:write", "ops:read"),
        secret=SECRET,
    )
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
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(
                base_url=fuzz_server.http_url,
                headers=headers,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
                timeout=REQUEST_TIMEOUT_S + 30,
            )

        check()
    assert {
        "POST /v1/counterfactual",
        "POST /v1/jobs",
        "GET /v1/jobs/{job_id}",
        "POST /v1/search",
        "POST /v1/blind/infer",
        "GET /ops/report",
        "GET /ops/metrics",
        "GET /ops/health",
    } <= set(tested)
