import json

import pytest

from acie.ops.contract import telemetry_schema, validate_lines, validate_record

GOOD = {
    "schema_version": "1.0",
    "timestamp": "2026-03-01T12:00:00Z",
    "experiment": "scan",
    "domain": "dm",
    "step": 0,
    "infra_cost_usd": 1.5,
    "qps": 10.0,
    "latency_p95_ms": 12.0,
}


def test_schema_is_valid_draft_2020_12_and_versioned():
    schema = telemetry_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert "v1" in schema["$id"]


def test_good_record_and_optional_fields_accepted():
    assert validate_record(GOOD) == []
    full = {
        **GOOD,
        "hypothesis": "h",
        "intervention": "cache",
        "knobs": {"cache": True, "n": 3},
        "error_rate": 0.01,
        "window_s": 60,
        "labels": {"site": "lngs"},
        "schema_version": "1.7",
    }
    assert validate_record(full) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"qps": -1}, "qps"),
        ({"latency_p95_ms": 0}, "latency_p95_ms"),
        ({"step": 1.5}, "step"),
        ({"timestamp": "2026-03-01T12:00:00"}, "timestamp"),  # no UTC offset
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"schema_version": "2.0"}, "schema_version"),
        ({"knobs": {"cache": "on"}}, "knobs/cache"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"surprise": 1}, "surprise"),
        ({"experiment": ""}, "experiment"),
    ],
)
def test_bad_records_rejected_with_the_field_named(change, fragment):
    problems = validate_record({**GOOD, **change})
    assert problems
    assert any(fragment in p for p in problems), problems


def test_missing_required_field_named():
    rec = dict(GOOD)
    del rec["infra_cost_usd"]
    assert any("infra_cost_usd" in p for p in validate_record(rec))


def test_non_object_rejected():
    assert validate_record([1, 2]) == ["a record must be a JSON object; got list"]


def test_validate_lines_reports_every_bad_line_by_number():
    lines = [json.dumps(GOOD), "{not json", "", json.dumps({**GOOD, "qps": -2}), json.dumps(GOOD)]
    report = validate_lines(lines)
    assert report.total == 4  # the blank line is not counted
    assert [b.number for b in report.bad] == [2, 4]
    assert "not valid JSON" in report.bad[0].reason
    assert "qps" in report.bad[1].reason
    assert report.valid == 2
    assert not report.ok


def test_fast_and_reference_validators_agree():
    import jsonschema

    from acie.ops.contract import _fast_validator, _validator

    fast = _fast_validator()
    assert fast is not None, "jsonschema-rs (a dependency of acie) is not importable"
    cases = [
        GOOD,
        {**GOOD, "timestamp": "2026-03-01T12:00:00"},
        {**GOOD, "qps": -1},
        {**GOOD, "knobs": {"a": "x"}},
        {**GOOD, "step": 2.5},
        {**GOOD, "extra": 1},
        {**GOOD, "timestamp": "2026-03-01T12:00:00+05:30"},
    ]
    for case in cases:
        ref_ok = not list(_validator().iter_errors(case))
        assert fast.is_valid(case) == ref_ok, case
    assert isinstance(_validator(), jsonschema.Draft202012Validator)
