"""Synthetic telemetry with planted intervention effects, for demos, docs and tests.

The generating model (per record, seeded):

* knobs ``cache`` and ``big_instance`` switch on at given steps; ``noop`` flips randomly
  and does nothing;
* load ``qps ~ Normal(qps0, 0.1 · qps0)``;
* ``latency_p95_ms = 50 − cache_effect_ms·cache − 5·big_instance + 0.2·qps + Normal(0, 2)``;
* ``infra_cost_usd = 10 + big_instance_cost_usd·big_instance + 0.05·qps + Normal(0, 0.5)``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

__all__ = ["simulate_telemetry"]


def simulate_telemetry(
    *,
    n: int = 240,
    seed: int = 0,
    experiment: str = "dm-scan",
    start: datetime | None = None,
    step_minutes: float = 60.0,
    cache_on_step: int | None = None,
    big_on_step: int | None = None,
    cache_effect_ms: float = 20.0,
    big_instance_cost_usd: float = 5.0,
    randomise: bool = True,
    qps0: float = 100.0,
) -> list[dict[str, Any]]:
    """Records following the module's model.

    With ``randomise`` each knob is an independent coin flip per record (a randomised
    experiment, best for effect estimation); otherwise ``cache`` switches on at
    ``cache_on_step`` and ``big_instance`` at ``big_on_step`` (a rollout, as the collector
    sees it), and ``intervention`` names the latest change.
    """
    rng = np.random.default_rng(seed)
    t0 = start or datetime(2026, 1, 1, tzinfo=UTC)
    records = []
    for i in range(n):
        if randomise:
            cache, big = rng.random() < 0.5, rng.random() < 0.5
            label = None
        else:
            cache = cache_on_step is not None and i >= cache_on_step
            big = big_on_step is not None and i >= big_on_step
            changes = [
                (s, name)
                for s, name in ((cache_on_step, "enable_cache"), (big_on_step, "bigger_instance"))
                if s is not None and i >= s
            ]
            label = max(changes)[1] if changes else None
        noop = rng.random() < 0.5
        qps = rng.normal(qps0, 0.1 * qps0)
        latency = 50.0 - cache_effect_ms * cache - 5.0 * big + 0.2 * qps + rng.normal(0, 2.0)
        cost = 10.0 + big_instance_cost_usd * big + 0.05 * qps + rng.normal(0, 0.5)
        records.append(
            {
                "schema_version": "1.0",
                "timestamp": (t0 + timedelta(minutes=step_minutes * i))
                .isoformat()
                .replace("+00:00", "Z"),
                "experiment": experiment,
                "domain": "dm-electron-scan",
                "hypothesis": "caching form-factor tables cuts latency without extra cost",
                "step": i,
                "intervention": label,
                "knobs": {"cache": bool(cache), "big_instance": bool(big), "noop": bool(noop)},
                "infra_cost_usd": round(float(max(cost, 0.0)), 4),
                "qps": round(float(max(qps, 0.0)), 3),
                "latency_p95_ms": round(float(max(latency, 0.1)), 3),
            }
        )
    return records
