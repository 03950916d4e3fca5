"""`acie ops`: Experiment-operations telemetry: validate, collect, analyze, serve reports."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="Experiment-operations telemetry: validate, collect, analyze, serve reports.",
    no_args_is_help=True,
)

FilesArg = typer.Argument(
    ...,
    help="Telemetry JSONL files (plain, gzip or AES-GCM per line).",
    exists=True,
    dir_okay=False,
    readable=True,
)
KeyOpt = typer.Option(
    None,
    "--key",
    envvar="TELEMETRY_KEY",
    show_envvar=True,
    help="Base64 AES-GCM keyring for encrypted files ('kid:b64,…').",
)


@app.command()
def validate(
    files: list[Path] = FilesArg,
    key: str | None = KeyOpt,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check every line against the telemetry contract; list each bad line by number and reason.

    Exits 1 when any line is bad.
    """
    from acie.ops.report import read_files

    bad_total = 0
    out: list[dict[str, Any]] = []
    for f in files:
        read = read_files([f], key=key)
        bad_total += len(read.bad) + read.skipped.get("truncated", 0)
        out.append(
            {
                "file": str(f),
                "lines": read.lines,
                "valid": len(read.records),
                "bad": [{"line": b.number, "reason": b.reason} for b in read.bad],
                "truncated_tail": bool(read.skipped.get("truncated")),
            }
        )
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    else:
        for item in out:
            typer.echo(f"{item['file']}: {item['valid']}/{item['lines']} lines valid")
            for b in item["bad"]:
                typer.echo(f"  line {b['line']}: {b['reason']}")
            if item["truncated_tail"]:
                typer.echo("  the file ends in a torn (incomplete) line or gzip member")
    raise typer.Exit(1 if bad_total else 0)


def _parse_now(text: str | None) -> datetime | None:
    """``--now``: ISO 8601 with an explicit timezone; a bare local time is refused."""
    from acie.errors import InputValidationError

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputValidationError(
            f"--now must be an ISO 8601 time with a timezone, e.g. 2026-01-05T00:00:00Z; "
            f"got {text!r}"
        ) from None
    if value.tzinfo is None:
        raise InputValidationError(
            f"--now must say its timezone (append Z for UTC or an offset like +02:00); got {text!r}"
        )
    return value


@app.command()
def collect(
    files: list[Path] = FilesArg,
    key: str | None = KeyOpt,
    gate: bool = typer.Option(False, "--gate", help="Exit 1 if any experiment grades FAIL."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    now: str | None = typer.Option(
        None,
        help="Time λ_effective decays to, ISO 8601 with a timezone "
        "(2026-01-05T00:00:00Z or …+02:00); default: the newest record.",
    ),
    half_life_days: float = typer.Option(
        30.0, help="Half-life of λ_effective, days (λ_ASDPI = ln2 / half-life)."
    ),
) -> None:
    """Medians, FTI grade and λ_effective per experiment (definitions: docs/ops.md)."""
    from acie.errors import InputValidationError
    from acie.ops.report import collect_files, render_text, report_json

    if not half_life_days > 0:
        raise InputValidationError(f"--half-life-days must be > 0; got {half_life_days}")
    report = collect_files(
        files, key=key, now=_parse_now(now), lambda_asdpi=math.log(2) / half_life_days
    )
    if as_json:
        typer.echo(report_json(report).decode())
    else:
        typer.echo(render_text(report))
    if gate and report.worst_grade is not None and report.worst_grade.value == "FAIL":
        typer.echo("gate: FAIL", err=True)
        raise typer.Exit(1)


@app.command()
def analyze(
    files: list[Path] = FilesArg,
    key: str | None = KeyOpt,
    out: Path = typer.Option(
        Path("out/ops-analysis"), help="Folder for report.md, effects.json, effects.png."
    ),
    method: str = typer.Option("auto", help="auto | pc | ols"),
    alpha: float = typer.Option(0.01, help="PC significance level."),
    seed: int = typer.Option(0, help="Seed of the estimators."),
) -> None:
    """Which interventions changed cost or latency: PC discovery + effect estimates (OLS fallback).

    Every (intervention, metric) pair gets two verdicts, each explained in words:
    *changed* (the effect's 95 % interval excludes 0) and *path in graph* (the discovered
    causal graph has a directed path from the intervention to the metric).
    """
    from acie.ops.attribution import analyze_interventions
    from acie.ops.attribution_report import plot_analysis
    from acie.ops.report import read_files

    read = read_files(files, key=key)
    analysis = analyze_interventions(read.records, method=method, alpha=alpha, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    md = analysis.to_markdown()
    (out / "report.md").write_text(md)
    (out / "effects.json").write_text(json.dumps(analysis.to_dict(), indent=2))
    plot_analysis(analysis, str(out / "effects.png"))
    typer.echo(md)
    typer.echo(f"written: {out / 'report.md'}, {out / 'effects.json'}, {out / 'effects.png'}")


@app.command()
def simulate(
    out: Path = typer.Option(..., help="Telemetry file to write."),
    n: int = typer.Option(240, min=1),
    seed: int = typer.Option(0),
    rollout: bool = typer.Option(
        False, help="Switch knobs on at fixed steps instead of randomising."
    ),
    gzip_: bool = typer.Option(False, "--gzip", help="Write gzip members."),
    encrypt: bool = typer.Option(False, help="Encrypt each line with TELEMETRY_KEY."),
) -> None:
    """Write synthetic telemetry with planted effects (cache: −20 ms; bigger instance: +5 USD)."""
    from acie.ops.cipher import codec_for
    from acie.ops.emitter import TelemetryEmitter
    from acie.ops.simulate import simulate_telemetry

    records = simulate_telemetry(
        n=n,
        seed=seed,
        randomise=not rollout,
        cache_on_step=n // 3 if rollout else None,
        big_on_step=2 * n // 3 if rollout else None,
    )
    codec = codec_for(out, required=True) if encrypt else None
    with TelemetryEmitter(out, compress=gzip_, codec=codec) as em:
        for r in records:
            em.emit(r)
    typer.echo(f"wrote {n} records to {out}")


@app.command()
def serve(
    files: list[Path] = FilesArg,
    key: str | None = KeyOpt,
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(9108),
    interval: float | None = typer.Option(
        None, help="Refresh interval, s (default OPS_REFRESH_INTERVAL_S)."
    ),
    access_log: bool = typer.Option(False, help="Log every request."),
) -> None:
    """Serve /report, /metrics and /health from a cache refreshed in the background."""
    import uvicorn

    from acie.config import get_settings
    from acie.ops.report import collect_files
    from acie.ops.server import ReportCache, create_app

    every = interval if interval is not None else get_settings().OPS_REFRESH_INTERVAL_S
    cache = ReportCache(lambda: collect_files(files, key=key), interval_s=every)
    uvicorn.run(create_app(cache), host=host, port=port, log_level="info", access_log=access_log)
