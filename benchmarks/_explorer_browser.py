"""The explorer in headless Chromium against plotly's scattergl, and the galaxy round trip.

Used by ``bench_explorer.py --browser``. One ``acie serve`` server (the app exactly as the
command builds it, the shipped model, a temporary ``ACIE_DATA_DIR``) also serves the
comparison page ``explorer_plotly/plotly.html`` and plotly.js from that folder's
``node_modules`` (``npm ci`` there first). Chromium is Debian's (``/usr/bin/chromium``),
driven by Playwright with software WebGL (SwiftShader), viewport 1280 x 800.

Measured per catalogue size, for both pages, on the same data (PCA map, all property
columns, colour by stellar mass, per-property histograms of the selection):

- first render: ``performance.now()`` (ms since navigation start) when the map and the
  histograms are first drawn; the projection is computed (cache warm) before, as a
  returning user finds it. The explorer's figure includes choosing the catalogue in its
  form (the benchmark types it as soon as the form is ready);
- brush → histograms: random rectangles (seeded); explorer: its own timer (selection,
  histograms, highlight state); plotly: the awaited ``restyle`` of the selection
  histograms and of the map's ``selectedpoints`` (+ ``gl.finish()``). "shown": for both,
  until the next animation frame has run and one pixel of the map is read back;
- pan/zoom frame: explorer ``panBy``/``zoomBy`` then one pixel read back (``readPixels``
  waits for the draw); plotly the awaited ``relayout`` of the axis ranges + one pixel;
  "shown": until the next animation frame as well; alternating pans and zooms;
- payload bytes per point: the explorer's map payload as received; for plotly the JSON
  numbers its figure format would carry for the same x, y, id.
"""

from __future__ import annotations

import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
PLOTLY_DIR = HERE / "explorer_plotly"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench password 1234"


def _p95(values: list[float]) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), 95)) if values else float("nan")


def start_server(tmp: Path) -> Any:
    """``acie serve``'s server on free ports with the shipped model and the plotly page."""
    from fastapi import APIRouter
    from fastapi.responses import FileResponse

    from acie.config import load_settings
    from acie.serve.server import Server, build_runtime
    from acie.store.database import create_engine_for
    from acie.store.users import add_user

    js = PLOTLY_DIR / "node_modules" / "plotly.js-dist-min" / "plotly.min.js"
    if not js.exists():
        raise SystemExit(f"run `npm ci` in {PLOTLY_DIR} first (plotly.js for the comparison)")
    settings = load_settings(
        ACIE_DATA_DIR=tmp / "data",
        JWT_SECRET=secrets.token_hex(32),
        ACIE_DATABASE_URL=f"sqlite:///{tmp / 'acie.sqlite3'}",
        REDIS_URL=None,
        RATE_LIMIT_PER_MINUTE=1_000_000,
        ADDRESS_RATE_LIMIT_PER_MINUTE=1_000_000,
        WORKER_THREADS=1,
    )
    bench = APIRouter(prefix="/bench")
    bench.add_api_route("/plotly.html", lambda: FileResponse(PLOTLY_DIR / "plotly.html"))
    bench.add_api_route("/plotly.min.js", lambda: FileResponse(js))
    srv = Server(build_runtime(settings), extra_routers=[bench]).start()
    engine = create_engine_for(settings.database_url)
    add_user(engine, "bench", PASSWORD)
    engine.dispose()
    return srv


def _explorer(page: Any, base: str, catalogue: str, n_brush: int, n_frames: int) -> dict:
    page.goto(f"{base}/explorer/#/map")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#method option')].some(o => o.value === 'pca')"
    )
    page.fill("#catalogue", catalogue)
    page.select_option("#method", "pca")
    page.click("form[aria-label=catalogue] button[type=submit]")
    page.wait_for_function("() => window.acieExplorer && window.acieExplorer.ready")
    first = page.evaluate(
        "() => ({first: acieExplorer.firstRenderMs, bpp: acieExplorer.bytesPerPoint, "
        "n: acieExplorer.points})"
    )
    brush = page.evaluate(
        """async (k) => {
          const p = window.acieExplorer; const [x0, y0, x1, y1] = p.bounds();
          const gl = document.getElementById("map").getContext("webgl2"), px = new Uint8Array(4);
          let s = 12345; const r = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
          const own = [], wall = [];
          for (let i = 0; i < k; i++) {
            const ax = x0 + r() * (x1 - x0), bx = x0 + r() * (x1 - x0);
            const ay = y0 + r() * (y1 - y0), by = y0 + r() * (y1 - y0);
            const t0 = performance.now();
            own.push(p.brushRect(Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by)));
            await new Promise((res) => requestAnimationFrame(() => res()));
            gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
            wall.push(performance.now() - t0);
          }
          return {own, wall};
        }""",
        n_brush,
    )
    frames = page.evaluate(
        """async (k) => {
          const p = window.acieExplorer, sync = [], shown = [];
          const gl = document.getElementById("map").getContext("webgl2"), px = new Uint8Array(4);
          for (let i = 0; i < k; i++) {
            const t0 = performance.now();
            if (i % 2) p.zoomBy(i % 4 === 1 ? 1.25 : 0.8); else p.panBy(i % 4 ? 15 : -15, 9);
            gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
            sync.push(performance.now() - t0);
            await new Promise((res) => requestAnimationFrame(() => res()));
            shown.push(performance.now() - t0);
          }
          return {sync, shown};
        }""",
        n_frames,
    )
    return {
        "first_render_ms": first["first"],
        "bytes_per_point": first["bpp"],
        "points": first["n"],
        "brush_p95_ms": _p95(brush["own"]),
        "brush_shown_p95_ms": _p95(brush["wall"]),
        "frame_p95_ms": _p95(frames["sync"]),
        "frame_shown_p95_ms": _p95(frames["shown"]),
        "n_brush": n_brush,
        "n_frames": n_frames,
    }


def _plotly(page: Any, base: str, catalogue: str, n_brush: int, n_frames: int) -> dict:
    page.goto(f"{base}/bench/plotly.html?catalogue={catalogue}")
    page.wait_for_function("() => window.plotlyBench && (plotlyBench.ready || plotlyBench.error)")
    err = page.evaluate("() => plotlyBench.error")
    if err:
        raise RuntimeError(f"plotly page: {err}")
    first = page.evaluate("() => ({first: plotlyBench.firstRenderMs, n: plotlyBench.points})")
    brush = page.evaluate(
        """async (k) => {
          const p = window.plotlyBench; const [x0, y0, x1, y1] = p.bounds();
          let s = 12345; const r = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
          const out = [], shown = [];
          for (let i = 0; i < k; i++) {
            const ax = x0 + r() * (x1 - x0), bx = x0 + r() * (x1 - x0);
            const ay = y0 + r() * (y1 - y0), by = y0 + r() * (y1 - y0);
            const t0 = performance.now();
            out.push((await p.brushRect(Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by))).ms);
            await new Promise((res) => requestAnimationFrame(() => res()));
            p.readPixel();
            shown.push(performance.now() - t0);
          }
          return {out, shown};
        }""",
        n_brush,
    )
    frames = page.evaluate(
        """async (k) => {
          const p = window.plotlyBench, out = [], shown = [];
          for (let i = 0; i < k; i++) {
            const [xr, yr] = p.ranges(); const w = xr[1] - xr[0], h = yr[1] - yr[0];
            let nx, ny;
            if (i % 2) { const f = i % 4 === 1 ? 0.8 : 1.25, cx = (xr[0] + xr[1]) / 2, cy = (yr[0] + yr[1]) / 2;
                         nx = [cx - f * w / 2, cx + f * w / 2]; ny = [cy - f * h / 2, cy + f * h / 2]; }
            else { const d = (i % 4 ? 1 : -1) * 0.02 * w; nx = [xr[0] + d, xr[1] + d]; ny = [yr[0] + 0.01 * h, yr[1] + 0.01 * h]; }
            const t0 = performance.now();
            out.push(await p.relayout(nx, ny));
            await new Promise((res) => requestAnimationFrame(() => res()));
            p.readPixel();
            shown.push(performance.now() - t0);
          }
          return {out, shown};
        }""",
        n_frames,
    )
    return {
        "first_render_ms": first["first"],
        "points": first["n"],
        "brush_p95_ms": _p95(brush["out"]),
        "brush_shown_p95_ms": _p95(brush["shown"]),
        "frame_p95_ms": _p95(frames["out"]),
        "frame_shown_p95_ms": _p95(frames["shown"]),
        "n_brush": n_brush,
        "n_frames": n_frames,
    }


def _json_bytes_per_point(catalogue: str) -> float:
    from acie.analysis.embedding_catalogues import load_embedding_catalogue
    from acie.analysis.projection import project

    cat = load_embedding_catalogue(catalogue)
    xy, _ = project(cat.embeddings, "pca")
    text = json.dumps({"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist(), "id": cat.ids.tolist()})
    return len(text.encode()) / len(cat)


def _round_trip(page: Any, base: str, catalogue: str, galaxy: int, k: int) -> dict:
    """Slider release → counterfactual, difference and uncertainty images painted."""
    page.goto(f"{base}/explorer/#/galaxy?catalogue={catalogue}&id={galaxy}")
    sel = "input[data-property=log_stellar_mass]"
    page.wait_for_selector(sel)
    ok = page.evaluate(
        """async ([sel, k]) => {
          const s = document.querySelector(sel); const v0 = Number(s.value); let done = 0;
          for (let i = 0; i < k; i++) {
            const before = window.acieGalaxy.roundTripMs.length;
            s.value = String(v0 + (i % 2 ? -0.05 : 0.05) * (1 + (i % 3)));
            s.dispatchEvent(new Event("change"));
            const t0 = performance.now();
            while (window.acieGalaxy.roundTripMs.length === before && performance.now() - t0 < 30000) {
              await new Promise((r) => setTimeout(r, 2));
              if ((document.getElementById("galaxy-message")?.textContent || "").startsWith("Refused")) break;
            }
            done = window.acieGalaxy.roundTripMs.length;
          }
          return window.acieGalaxy.roundTripMs;
        }""",
        [sel, k],
    )
    return {
        "n": len(ok),
        "p50_ms": statistics.median(ok) if ok else float("nan"),
        "p95_ms": _p95(ok),
    }


def _http_round_trip(base: str, cookies: dict, catalogue: str, galaxy: int, k: int) -> dict:
    import httpx

    from acie.wire.tensors import decode_b64

    times = []
    with httpx.Client(base_url=base, cookies=cookies, timeout=60) as c:
        c.headers["X-CSRF-Token"] = cookies["acie_csrf"]
        value = c.get("/v1/explorer/galaxy", params={"catalogue": catalogue, "id": galaxy}).json()[
            "properties"
        ]["log_stellar_mass"]
        for i in range(k + 2):
            body = {
                "catalogue": catalogue,
                "id": galaxy,
                "interventions": {"log_stellar_mass": value + 0.05 * (1 + i % 3)},
            }
            t0 = time.perf_counter()
            r = c.post("/v1/explorer/galaxy/counterfactual", json=body)
            r.raise_for_status()
            d = r.json()
            for key in ("counterfactual", "difference", "uncertainty"):
                decode_b64(d[key]["shape"], d[key]["dtype"], d[key]["data"])
            if i >= 2:  # two warm-up calls
                times.append((time.perf_counter() - t0) * 1e3)
    return {"n": len(times), "p50_ms": statistics.median(times), "p95_ms": _p95(times)}


def run(sizes: list[int], *, n_brush: int, n_frames: int, round_trips: int) -> dict:
    """Run everything; returns the numbers (also printed)."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(Path(tmp))
        base = srv.http_url
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
                )
                ctx = browser.new_context(viewport={"width": 1280, "height": 800})
                ctx.set_default_timeout(600_000)
                r = ctx.request.post(
                    f"{base}/v1/session/login", data={"username": "bench", "password": PASSWORD}
                )
                assert r.ok, r.text()
                page = ctx.new_page()
                for n in sizes:
                    cat = f"sim_{n}"
                    t0 = time.perf_counter()
                    for url in (
                        f"/v1/explorer/projection?catalogue={cat}&method=pca",
                        f"/v1/explorer/properties?catalogue={cat}",
                    ):
                        assert ctx.request.get(base + url, timeout=600_000).ok
                    warm = time.perf_counter() - t0
                    # plotly takes seconds per step at 1M points: fewer steps there
                    k_brush = n_brush if n <= 100_000 else max(5, n_brush // 6)
                    k_frames = n_frames if n <= 100_000 else max(8, n_frames // 5)
                    ours = _explorer(page, base, cat, n_brush, n_frames)
                    theirs = _plotly(page, base, cat, k_brush, k_frames)
                    theirs["bytes_per_point"] = _json_bytes_per_point(cat)
                    out["sizes"][n] = {"explorer": ours, "plotly": theirs, "server_warm_s": warm}
                    print(json.dumps({n: out["sizes"][n]}, indent=1), flush=True)
                if round_trips:
                    out["round_trip_browser"] = _round_trip(
                        page, base, "sim_100000", 42, round_trips
                    )
                    cookies = {c["name"]: c["value"] for c in ctx.cookies()}
                    out["round_trip_http"] = _http_round_trip(
                        base, cookies, "sim_100000", 42, round_trips
                    )
                    print(json.dumps({k: out[k] for k in out if k.startswith("round")}), flush=True)
                browser.close()
        finally:
            srv.stop(grace_s=1.0)
    return out
