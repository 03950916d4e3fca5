"""From telemetry files to a report: read (decrypting if keyed), count skips, collect, render."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from acie.ops.cipher import codec_for
from acie.ops.collector import DEFAULT_LAMBDA_ASDPI, OpsReport, Reference, collect
from acie.ops.telemetry_file import TelemetryRead, read_telemetry

__all__ = ["collect_files", "read_files", "render_text"]


def read_files(paths: Sequence[Path | str], *, key: str | None = None) -> TelemetryRead:
    """Read several telemetry files; each encrypted file is keyed to its own stream id."""
    total = TelemetryRead()
    for path in paths:
        total.extend(read_telemetry(path, codec=codec_for(path, key=key)))
    return total


def collect_files(
    paths: Sequence[Path | str],
    *,
    key: str | None = None,
    reference: Reference | None = None,
    now: datetime | None = None,
    lambda_asdpi: float = DEFAULT_LAMBDA_ASDPI,
) -> OpsReport:
    """Read ``paths`` and :func:`~acie.ops.collector.collect` their records."""
    read = read_files(paths, key=key)
    return collect(
        read.records,
        reference=reference,
        now=now,
        lambda_asdpi=lambda_asdpi,
        skipped=read.skipped,
        lines=read.lines,
    )


def render_text(report: OpsReport) -> str:
    """A readable table of the report for the terminal."""
    lines = [
        f"telemetry report as of {report.as_of}  "
        f"({report.lines} lines, skipped: {dict(report.skipped) or 'none'})",
        "",
    ]
    header = (
        f"{'experiment':<24} {'grade':<5} {'FTI':>7} {'cost/ref':>9} {'perf/ref':>9} "
        f"{'qps':>9} {'p95 ms':>9} {'cost USD':>10} {'λ_SIBG':>7} {'λ_eff':>7} {'days':>6}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for e in report.experiments:
        c = e.current
        lines.append(
            f"{e.experiment[:24]:<24} {e.grade.value:<5} {c.fti:>7.3f} {c.normalised_cost:>9.3f} "
            f"{c.normalised_performance:>9.3f} {c.qps:>9.2f} {c.latency_p95_ms:>9.2f} "
            f"{c.infra_cost_usd:>10.2f} {e.lambda_sibg:>7.3f} {e.lambda_effective:>7.3f} "
            f"{e.days_since_change:>6.1f}"
        )
    for u in report.unrated:
        lines.append(f"{u.experiment[:24]:<24} {'-':<5} {u.note}")
    lines.append("")
    lines.append(
        "FTI = (cost/cost_ref) / ((qps/qps_ref)·(p95_ref/p95)); OK ≤ 1.0 < WARN ≤ 1.05 < FAIL"
    )
    return "\n".join(lines)


def report_json(report: OpsReport) -> bytes:
    """The report as compact JSON bytes."""

    def default(o: Any) -> Any:
        return o.value if hasattr(o, "value") else str(o)

    return json.dumps(report.to_dict(), default=default, separators=(",", ":")).encode()
