import math
from datetime import UTC, datetime, timedelta

import pytest

from acie.errors import InputValidationError
from acie.ops.collector import Grade, Reference, collect, grade_fti

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rec(i, *, cost, qps, lat, intervention=None, experiment="e", day=0.0):
    return {
        "schema_version": "1.0",
        "experiment": experiment,
        "domain": "d",
        "step": i,
        "timestamp": (T0 + timedelta(days=day, minutes=i)).isoformat(),
        "intervention": intervention,
        "infra_cost_usd": cost,
        "qps": qps,
        "latency_p95_ms": lat,
    }


def test_grade_boundaries():
    assert grade_fti(1.0) is Grade.OK
    assert grade_fti(1.0000001) is Grade.WARN
    assert grade_fti(1.05) is Grade.WARN
    assert grade_fti(1.0500001) is Grade.FAIL
    assert grade_fti(math.inf) is Grade.FAIL
    assert grade_fti(math.nan) is Grade.FAIL


def test_known_fti_and_lambda():
    # baseline medians: cost 10, qps 100, p95 50.  after "cache": cost 11, qps 100, p95 40
    # C = 1.1, P = 1 * 50/40 = 1.25, FTI = 0.88; lambda_SIBG = (1 - 0.88)/1 = 0.12
    base = [rec(i, cost=c, qps=100, lat=50) for i, c in enumerate([9, 10, 11])]
    after = [
        rec(10 + i, cost=11, qps=q, lat=40, intervention="cache", day=3.0)
        for i, q in enumerate([90, 100, 110])
    ]
    now = T0 + timedelta(days=13, minutes=10)  # exactly 10 days after the change
    report = collect(base + after, now=now, lambda_asdpi=math.log(2) / 10)
    (e,) = report.experiments
    assert e.reference == Reference(infra_cost_usd=10, qps=100, latency_p95_ms=50)
    assert e.current.label == "cache"
    assert e.current.fti == pytest.approx(0.88, rel=1e-12)
    assert e.grade is Grade.OK
    assert e.lambda_sibg == pytest.approx(0.12, rel=1e-12)
    assert e.days_since_change == pytest.approx(10.0, rel=1e-9)
    assert e.lambda_effective == pytest.approx(0.06, rel=1e-9)  # one half-life later
    assert [s.label for s in e.segments] == ["baseline", "cache"]
    assert e.segments[0].fti == pytest.approx(1.0)


def test_worse_change_fails_and_gives_no_gain():
    base = [rec(i, cost=10, qps=100, lat=50) for i in range(3)]
    worse = [rec(5 + i, cost=12, qps=100, lat=50, intervention="bigger") for i in range(3)]
    (e,) = collect(base + worse).experiments
    assert e.current.fti == pytest.approx(1.2)
    assert e.grade is Grade.FAIL
    assert e.lambda_sibg == 0.0
    assert e.lambda_effective == 0.0


def test_records_out_of_order_and_several_experiments():
    a = [rec(i, cost=10, qps=100, lat=50, experiment="a") for i in range(4)]
    b = [rec(i, cost=10, qps=100, lat=50, experiment="b") for i in range(2)] + [
        rec(9, cost=10.4, qps=100, lat=50, experiment="b", intervention="x")
    ]
    report = collect(list(reversed(a + b)))
    grades = {e.experiment: e.grade for e in report.experiments}
    assert grades == {"a": Grade.OK, "b": Grade.WARN}
    assert report.worst_grade is Grade.WARN
    assert report.experiments[1].current.fti == pytest.approx(1.04)


def test_explicit_reference_and_no_baseline_label():
    rs = [rec(i, cost=20, qps=100, lat=50, intervention="tuned") for i in range(3)]
    (e,) = collect(
        rs, reference=Reference(infra_cost_usd=10, qps=100, latency_p95_ms=50)
    ).experiments
    assert e.current.fti == pytest.approx(2.0)
    assert e.grade is Grade.FAIL
    (e2,) = collect(rs).experiments  # first segment is the reference when none is baseline
    assert e2.current.fti == pytest.approx(1.0)


def test_bad_reference_and_rate():
    with pytest.raises(InputValidationError, match="qps"):
        Reference(infra_cost_usd=1, qps=0, latency_p95_ms=1)
    with pytest.raises(InputValidationError, match="lambda_asdpi"):
        collect([], lambda_asdpi=-1)
    zero = [rec(i, cost=0, qps=100, lat=50) for i in range(3)]
    report = collect(zero)  # listed as unrated with a note, not an error for everyone
    assert report.experiments == []
    assert "cost 0.0 USD" in report.unrated[0].note


def test_skipped_counts_carried_into_report():
    report = collect([rec(0, cost=1, qps=1, lat=1)], skipped={"malformed": 2}, lines=3)
    d = report.to_dict()
    assert d["skipped"] == {"malformed": 2}
    assert d["lines"] == 3
    assert d["units"]["latency_p95_ms"] == "ms"
