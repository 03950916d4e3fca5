import json

import pytest

from acie.errors import InputValidationError
from acie.ops.analysis import analyze_interventions, plot_analysis, telemetry_frame
from acie.ops.simulate import simulate_telemetry


def effect(analysis, treatment, outcome):
    (e,) = [e for e in analysis.effects if e.treatment == treatment and e.outcome == outcome]
    return e


@pytest.fixture(scope="module")
def randomised():
    return simulate_telemetry(n=240, seed=11)


def test_discovery_recovers_planted_effects(randomised):
    a = analyze_interventions(randomised, method="auto", seed=0)
    assert a.method == "pc"
    directed = {tuple(e) for e in a.graph["directed"]}
    assert ("knob:cache", "latency_p95_ms") in directed
    assert ("knob:big_instance", "infra_cost_usd") in directed
    # planted: cache -20 ms, bigger instance +5 USD and -5 ms; noop nothing.
    # Tolerances: 4 standard errors of the estimate (sampling error of n = 240 rows).
    cache_lat = effect(a, "knob:cache", "latency_p95_ms")
    assert abs(cache_lat.estimate + 20) < 4 * cache_lat.std_error
    big_cost = effect(a, "knob:big_instance", "infra_cost_usd")
    assert abs(big_cost.estimate - 5) < 4 * big_cost.std_error
    changed = {(e.treatment, e.outcome) for e in a.changed()}
    assert ("knob:cache", "latency_p95_ms") in changed
    assert ("knob:big_instance", "infra_cost_usd") in changed
    assert not any(t == "knob:noop" for t, _ in changed)
    assert ("knob:cache", "infra_cost_usd") not in changed


def test_fallback_ols_for_few_rows(randomised):
    a = analyze_interventions(randomised[:25])
    assert a.method == "ols" and "fallback" in a.notes[0]
    e = effect(a, "knob:cache", "latency_p95_ms")
    assert e.method == "ols-hc3" and e.ci_high < 0
    forced = analyze_interventions(randomised, method="ols")
    assert abs(effect(forced, "knob:cache", "latency_p95_ms").estimate + 20) < 1.0


def test_fallback_when_causal_learn_is_missing(randomised, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_causallearn(name, *args, **kwargs):
        if name.startswith("causallearn"):
            raise ImportError("No module named 'causallearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_causallearn)
    a = analyze_interventions(randomised)
    assert a.method == "ols" and any("not installed" in n for n in a.notes)


def test_intervention_labels_when_no_knobs():
    recs = simulate_telemetry(n=60, seed=2, randomise=False, cache_on_step=20, big_on_step=40)
    for r in recs:
        del r["knobs"]
    frame, treatments = telemetry_frame(recs)
    assert treatments == ["intervention:bigger_instance", "intervention:enable_cache"]
    assert frame.shape == (60, 5)


def test_no_variation_is_a_clear_error():
    recs = simulate_telemetry(n=10, seed=0, randomise=False)
    for r in recs:
        r["knobs"] = {"cache": False}
    with pytest.raises(InputValidationError, match="no intervention varies"):
        analyze_interventions(recs)
    with pytest.raises(InputValidationError, match="method"):
        analyze_interventions(recs, method="magic")


def test_report_and_plot(tmp_path, randomised):
    a = analyze_interventions(randomised[:25])
    md = a.to_markdown()
    assert "| knob:cache | latency_p95_ms |" in md
    json.dumps(a.to_dict())
    out = tmp_path / "effects.png"
    plot_analysis(a, str(out), dpi=50)
    assert out.stat().st_size > 1000
