"""acie.ops: experiment-operations telemetry, its report, and what changed it.

Modules::

    contract.py            the versioned telemetry JSON Schema; validate_record / validate_lines
    emitter.py             TelemetryEmitter: batched, gzip members, AES-GCM per line, fsync
    telemetry_file.py      reading and repairing files; skipped lines counted by reason
    cipher.py              the line cipher's keys (TELEMETRY_KEY), bound to a stream id
    collector.py           medians, FTI grade and λ_effective per experiment
    report.py              files → report; terminal and JSON rendering
    server.py              /report, /metrics, /health from a background-refreshed cache
    api.py                 the same router mounted under /ops in ``acie serve``
    simulate.py            synthetic telemetry with planted intervention effects
    attribution.py         which interventions changed cost or latency (PC + effect estimates)
    attribution_report.py  both verdicts per effect in words, report.md, the forest plot
"""
