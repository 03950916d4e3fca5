import dataclasses
import json

import pytest

from acie.errors import InputValidationError
from acie.ops.attribution import analyze_interventions, telemetry_frame
from acie.ops.attribution_report import explain, plot_analysis
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
    assert a.method == "ols"
    assert "fallback" in a.notes[0]
    e = effect(a, "knob:cache", "latency_p95_ms")
    assert e.method == "ols-hc3"
    assert e.ci_high < 0
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
    assert a.method == "ols"
    assert any("not installed" in n for n in a.notes)


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


def test_changed_is_the_test_of_no_effect_at_5_percent(randomised):
    a = analyze_interventions(randomised, seed=0)
    for e in a.effects:
        assert e.changed == (e.p_value < 0.05), e
        assert e.z == pytest.approx(e.estimate / e.std_error)
    d = a.to_dict()
    assert d["alpha"] == 0.01
    assert d["level"] == 0.95
    assert all(set(x["explanation"]) == {"changed", "path", "agreement"} for x in d["effects"])


def test_every_verdict_is_explained_in_words(randomised):
    a = analyze_interventions(randomised, seed=0)
    cache = explain(effect(a, "knob:cache", "latency_p95_ms"), a)
    assert cache.changed.startswith("yes: knob:cache moved latency_p95_ms by -")
    assert "95 % CI [" in cache.changed
    assert "AIPW" in cache.changed
    assert "p < " in cache.changed
    assert "directed path knob:cache → latency_p95_ms" in cache.path
    assert cache.agreement == "They agree: knob:cache changes latency_p95_ms."
    noop = explain(effect(a, "knob:noop", "infra_cost_usd"), a)
    assert noop.changed.startswith("no: ")
    assert "contains 0" in noop.changed
    assert "no directed path from knob:noop to infra_cost_usd" in noop.path
    assert noop.agreement.startswith("They agree: no sign")
    # the two disagreements, each with what it means
    e = effect(a, "knob:cache", "latency_p95_ms")
    lost_edge = dataclasses.replace(e, path_in_graph=False, graph_path=())
    assert "They disagree" in explain(lost_edge, a).agreement
    assert "PC missed the edge" in explain(lost_edge, a).agreement
    weak = dataclasses.replace(e, estimate=0.5, std_error=0.24, ci_low=0.03, ci_high=0.97)
    weak_lost = dataclasses.replace(weak, path_in_graph=False)
    assert "1 in 20" in explain(weak_lost, a).agreement
    unmeasured = dataclasses.replace(e, estimate=0.1, ci_low=-0.4, ci_high=0.6)
    assert "too small to measure with 240 records" in explain(unmeasured, a).agreement
    ols = analyze_interventions(randomised, method="ols")
    v = explain(effect(ols, "knob:cache", "latency_p95_ms"), ols)
    assert v.path.startswith("n/a: no causal graph")
    assert "HC3" in v.changed


def test_report_explains_the_columns_and_each_verdict(randomised):
    a = analyze_interventions(randomised, seed=0)
    md = a.to_markdown()
    assert "## How to read this" in md
    assert "directed path intervention → … → metric" in md
    assert md.count("\n### ") == len(a.effects) == 6
    assert "### knob:big_instance → infra_cost_usd" in md
    assert "Changed: " in md
    assert "Discovered graph (directed edges): " in md
