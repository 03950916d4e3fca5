"""Ops report server: cached responses vs computing the report per request.

Peer: the uncached path (read the telemetry files and collect on every request), which is
what a server without the cache would do. Prints handler times and over-HTTP latencies,
and their ratios. Usage: ``python benchmarks/bench_ops.py [--records N]``.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _timing import percentile, run_times

from acie.ops.emitter import TelemetryEmitter
from acie.ops.report import collect_files, report_json
from acie.ops.server import ReportCache
from acie.ops.simulate import simulate_telemetry


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "telemetry.jsonl"
        recs = simulate_telemetry(
            n=args.records, seed=0, randomise=False, cache_on_step=args.records // 2
        )
        t = time.perf_counter()
        with TelemetryEmitter(path, batch_size=500) as em:
            for r in recs:
                em.emit(r)
        emit_s = time.perf_counter() - t
        print(
            f"emitter: {args.records} records in {emit_s:.2f} s "
            f"({args.records / emit_s:,.0f} records/s, validated, fsync per 500)"
        )

        def compute():
            return collect_files([path])

        cache = ReportCache(compute, interval_s=3600)
        cache.refresh()
        cached = run_times(cache.report_body, 20_000)
        uncached = run_times(lambda: report_json(compute()), 5)
        c50, u50 = statistics.median(cached), statistics.median(uncached)
        print(
            f"handler  /report cached  p50 {c50 * 1e6:8.2f} µs  p99 {percentile(cached, 0.99) * 1e6:8.2f} µs"
        )
        print(f"handler  /report per-request compute p50 {u50 * 1e3:8.1f} ms")
        print(f"ratio (per-request compute / cached): {u50 / c50:,.0f}x")
        metrics = run_times(cache.metrics_body, 20_000)
        print(f"handler  /metrics cached p50 {statistics.median(metrics) * 1e6:8.2f} µs")

        # the server runs in its own process, as in production (a server thread in this
        # process would share the GIL with the client and measure that instead)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        proc = subprocess.Popen(
            [sys.executable, "-m", "acie", "ops", "serve", str(path), "--port", str(port)],
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if client.get("/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("the report server did not start")
                    time.sleep(0.1)
                http = run_times(lambda: client.get("/report"), 500)
        finally:
            proc.terminate()
            proc.wait()
        print(
            f"HTTP     /report (loopback, keep-alive, server process) "
            f"p50 {statistics.median(http) * 1e3:.2f} ms p95 {percentile(http, 0.95) * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main()
