"""The explorer in a real headless Chromium, driven by Playwright, against ``acie serve``.

The server is started exactly as a user starts it (``acie serve`` in a subprocess on
free ports, its own ``ACIE_DATA_DIR``), with accounts made by ``acie admin user add``.
A new user signs in, loads a 100,000-galaxy catalogue, brushes the map and sees the
histograms change, filters the map from a histogram, asks a galaxy counterfactual with
a slider, runs a selection counterfactual as a job and watches its progress, and sees
the queue-depth alert. Each step leaves a screenshot in ``build/browser-artifacts/``.

The browser is Debian's ``chromium`` (``make setup-browser`` installs it); Playwright
only drives it (``executable_path``), nothing downloads a browser build. Without the
browser or the ``playwright`` package the tests skip and say why (a failure under
``CI=true``, see ``tests/ci_policy.py``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from user_runs import REPO, VENV_BIN, base_env, free_port, wait_for_health

from acie.wire.typed_arrays import decode_columns

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package
ARTIFACTS = REPO / "build" / "browser-artifacts"
PASSWORD = "correct horse battery staple"
CATALOGUE = "sim_100000"
# software WebGL (SwiftShader) in a headless browser without a GPU
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
]


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (make setup-browser)")
    return pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (the test extra)"
    )


@pytest.fixture(scope="module")
def browser(playwright_api: Any) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("explorer")
    env = base_env(tmp / "data")
    env.update(
        HTTP_PORT=str(free_port()),
        GRPC_PORT=str(free_port()),
        ALERT_QUEUE_DEPTH="1",  # two waiting jobs raise the queue-depth alert
        ALERT_POLL_INTERVAL_S="0.25",
    )
    # one after the other: two first uses of a new database race on its migrations
    for user, role in (("alice", "researcher"), ("carol", "collaborator")):
        done = subprocess.run(
            [str(VENV_BIN / "acie"), "admin", "user", "add", user, "--role", role],
            env={**env, "ACIE_NEW_PASSWORD": PASSWORD},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    base = f"http://127.0.0.1:{env['HTTP_PORT']}"
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            [str(VENV_BIN / "acie"), "serve", "--grace", "0", "--drain", "0"],
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            try:
                wait_for_health(f"{base}/healthz", 180, proc)
            except (TimeoutError, RuntimeError) as exc:
                log.seek(0)
                pytest.fail(f"acie serve did not start: {exc}\n{log.read()[-4000:]}")
            yield base
        finally:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def sign_in(page: Any, base: str, user: str = "alice", password: str = PASSWORD) -> None:
    page.goto(f"{base}/explorer/")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#signin button[type=submit]")


def load_map(page: Any) -> None:
    page.fill("#catalogue", CATALOGUE)
    page.select_option("#method", "pca")
    page.click("form[aria-label=catalogue] button[type=submit]")
    page.wait_for_selector("#map-box[data-state=ready]", timeout=120_000)


def drag(page: Any, selector: str, a: tuple[float, float], b: tuple[float, float]) -> None:
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + a[0] * box["width"], box["y"] + a[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + b[0] * box["width"], box["y"] + b[1] * box["height"], steps=6)
    page.mouse.up()


def selection_counts(page: Any, prop: str) -> list[int]:
    raw = page.get_attribute(f".hist-row[data-property={prop}]", "data-counts") or ""
    return [int(v) for v in raw.split(",") if v]


def test_a_new_user_explores_and_asks_what_if(page: Any, server: str) -> None:
    # sign in (cookies + CSRF, no token pasted)
    page.goto(f"{server}/dashboard/")  # the old URL leads to the explorer
    assert page.url.endswith("/explorer/")
    page.wait_for_selector("#signin")
    shot(page, "01-sign-in")
    sign_in(page, server)
    page.wait_for_selector("#catalogue")
    assert page.inner_text("#who") == "alice (researcher)"
    assert "acie_access" not in page.evaluate("document.cookie")  # HttpOnly

    # 100,000 points on the WebGL map, 12 bytes per point on the wire
    load_map(page)
    probe = page.evaluate("window.acieExplorer")
    assert probe["points"] == 100_000
    assert 12.0 <= probe["bytesPerPoint"] < 12.1
    shot(page, "02-map-100k")

    # brush a rectangle: the selection's histograms change and differ from the whole's
    whole = selection_counts(page, "log_stellar_mass")
    assert sum(whole) == 100_000
    drag(page, "#map", (0.3, 0.3), (0.5, 0.6))
    selected = int(page.get_attribute("#selection-info", "data-selected"))
    assert 0 < selected < 100_000
    brushed = selection_counts(page, "log_stellar_mass")
    assert sum(brushed) == selected
    assert brushed != whole
    shot(page, "03-brushed")

    # brushing a histogram filters the map back
    drag(page, ".hist-row[data-property=log_halo_mass] canvas", (0.05, 0.5), (0.4, 0.5))
    visible = int(page.get_attribute("#selection-info", "data-visible"))
    assert 0 < visible < 100_000
    assert int(page.get_attribute("#selection-info", "data-selected")) <= selected
    shot(page, "04-histogram-filter")
    page.keyboard.press("Escape")  # focus is on the histogram: clears its filter
    page.click("#clear-selection")
    assert int(page.get_attribute("#selection-info", "data-visible")) == 100_000

    # hovering a point shows its properties
    px, py = page.evaluate("window.acieExplorer.pixelOf(0)")
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + px, box["y"] + py)
    page.wait_for_selector("#tooltip:not([hidden])")
    assert "galaxy" in page.inner_text("#tooltip")
    assert "log_stellar_mass" in page.inner_text("#tooltip")

    # galaxy detail: image, a slider within the physical range, the counterfactual
    page.fill("#goto-id", "42")
    page.press("#goto-id", "Enter")
    page.wait_for_selector("#sliders input[data-property=log_stellar_mass]")
    shot(page, "05-galaxy")
    slider = page.locator("#sliders input[data-property=log_stellar_mass]")
    low, high = (float(slider.get_attribute(a) or "nan") for a in ("min", "max"))
    value = float(slider.input_value())
    assert low < value < high
    target = min(high, value + 0.3)
    slider.evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input'));"
        " el.dispatchEvent(new Event('change')); }",
        target,
    )
    page.wait_for_selector("#galaxy-cf:not([hidden])", timeout=60_000)
    page.wait_for_selector("#violation")
    assert float(page.inner_text("#violation")) >= 0
    assert 0 <= float(page.inner_text("#confidence")) <= 1
    version = page.evaluate("window.acieGalaxy.last.model_version")
    assert page.get_attribute("#model-version", "title") == version
    assert len(version) == 64
    shot(page, "06-galaxy-counterfactual")

    # a selection counterfactual: M* x 2 on a brushed population, as one job
    page.click("text=Back to the map")  # the loaded catalogue is kept in the page
    page.wait_for_selector("#map-box[data-state=ready]", timeout=120_000)
    drag(page, "#map", (0.35, 0.35), (0.55, 0.6))
    page.wait_for_selector("#cf-submit:not([disabled])")
    page.select_option("#cf-property", "log_stellar_mass")
    page.select_option("#cf-kind", "factor")
    page.fill("#cf-amount", "2")
    page.fill("#cf-sample", "16")
    page.click("#cf-submit")
    page.wait_for_selector(".progress[data-job]", timeout=30_000)
    shot(page, "07-selection-progress")
    page.wait_for_selector(".progress[data-state=COMPLETE]", timeout=120_000)
    seen = page.get_attribute(".progress", "data-seen").split()
    assert seen == ["QUEUED", "PROCESSING", "PHYSICS_CHECK", "COMPLETE"]
    page.wait_for_selector("#selection-result[data-state=complete]", timeout=30_000)
    shift = page.locator("#mean-shifts tr[data-property=log_stellar_mass] td").nth(1)
    mean = float(shift.inner_text().split("±")[0])
    assert abs(mean - 0.30103) < 0.05  # log10(2) dex, for the used galaxies
    assert page.locator("#gallery figure").count() > 0
    shot(page, "08-selection-result")

    # an alert pushed by the server: jobs waiting beyond ALERT_QUEUE_DEPTH
    with httpx.Client(base_url=server, timeout=60) as api:
        api.post("/v1/session/login", json={"username": "alice", "password": PASSWORD})
        csrf = api.cookies["acie_csrf"]
        # jobs of 200 galaxies each (seconds of work): while the worker runs the first,
        # the others wait, however quickly the posts arrive (with 8-galaxy jobs a loaded
        # CI machine drained each job before the next post and the depth never reached 2)
        for seed in range(4):
            r = api.post(
                "/v1/explorer/selection/counterfactual",
                json={
                    "catalogue": CATALOGUE,
                    "ids": list(range(1000 * seed, 1000 * seed + 400)),
                    "intervention": {"property": "log_stellar_mass", "shift": 0.1},
                    "sample_size": 200,
                    "seed": seed,
                },
                headers={"X-CSRF-Token": csrf},
            )
            assert r.status_code == 202, r.text
    page.wait_for_selector(".alert[data-kind=queue_depth]", timeout=30_000)
    shot(page, "09-alert")

    # the jobs page lists them, with live progress for the unfinished ones
    page.click("nav a[href='#/jobs']")
    page.wait_for_selector("#jobs-table tr[data-job]")
    assert page.locator("#jobs-table tr[data-job]").count() >= 5
    deadline = time.monotonic() + 120
    while page.locator("#jobs-table .progress:not([data-state=COMPLETE])").count():
        assert time.monotonic() < deadline, "jobs did not complete"
        page.wait_for_timeout(500)
    shot(page, "10-jobs")


def test_a_wrong_password_is_refused_in_the_form(page: Any, server: str) -> None:
    sign_in(page, server, password="not the password")
    page.wait_for_selector("#signin-error:not(:empty)")
    assert "Sign-in failed" in page.inner_text("#signin-error")
    assert page.locator("#catalogue").count() == 0


def test_a_collaborator_is_offered_no_counterfactuals(page: Any, server: str) -> None:
    sign_in(page, server, user="carol")
    page.wait_for_selector("#catalogue")
    page.fill("#catalogue", "cluster_sim_a")
    page.select_option("#method", "pca")  # UMAP's first run compiles numba for a minute
    page.click("form[aria-label=catalogue] button[type=submit]")
    page.wait_for_selector("#map-box[data-state=ready]", timeout=120_000)
    assert page.locator("#cf-submit").count() == 0
    assert "cannot submit" in page.inner_text("#selection-cf") or "not submit" in page.inner_text(
        "#selection-cf"
    )
    shot(page, "11-collaborator")


def test_an_expired_access_cookie_is_refreshed_silently(page: Any, server: str) -> None:
    sign_in(page, server)
    page.wait_for_selector("#catalogue")
    page.context.clear_cookies(name="acie_access")  # as if its 15 minutes had passed
    page.click("nav a[href='#/jobs']")
    page.wait_for_selector("#jobs-table")
    page.wait_for_timeout(300)
    assert "Could not" not in page.inner_text("main")
    assert page.locator("#signin").count() == 0
    names = {c["name"] for c in page.context.cookies()}
    assert "acie_access" in names  # a new one, from POST /v1/session/refresh


def test_keyboard_alone_brushes_and_pans(page: Any, server: str) -> None:
    sign_in(page, server)
    page.wait_for_selector("#catalogue")
    page.fill("#catalogue", "cluster_sim_b")
    page.select_option("#method", "pca")
    page.press("#catalogue", "Enter")
    page.wait_for_selector("#map-box[data-state=ready]", timeout=120_000)
    page.focus(".hist-row[data-property=mass] canvas")
    for _ in range(3):
        page.keyboard.press("Shift+ArrowRight")
    visible = int(page.get_attribute("#selection-info", "data-visible"))
    assert 0 < visible < 300
    page.keyboard.press("Escape")
    assert int(page.get_attribute("#selection-info", "data-visible")) == 300
    page.focus("#map")
    assert page.evaluate("window.acieExplorer.frameMs.length") == 0  # timed only with ?measure
    before = page.evaluate("window.acieExplorer.view()")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("+")
    after = page.evaluate("window.acieExplorer.view()")
    assert after["cx"] < before["cx"]
    assert after["zoom"] > before["zoom"]
    page.keyboard.press("0")  # fit the catalogue again
    page.keyboard.press("l")
    assert page.get_attribute("button[data-mode=lasso]", "aria-pressed") == "true"

    # a lasso (a triangle) selects fewer galaxies than the rectangle around it
    box = page.locator("#map").bounding_box()
    corners = [(0.2, 0.2), (0.8, 0.2), (0.2, 0.8), (0.2, 0.2)]
    page.mouse.move(
        box["x"] + corners[0][0] * box["width"], box["y"] + corners[0][1] * box["height"]
    )
    page.mouse.down()
    for cx, cy in corners[1:]:
        page.mouse.move(box["x"] + cx * box["width"], box["y"] + cy * box["height"], steps=8)
    page.mouse.up()
    lasso = int(page.get_attribute("#selection-info", "data-selected"))
    page.keyboard.press("r")
    drag(page, "#map", (0.2, 0.2), (0.8, 0.8))
    rectangle = int(page.get_attribute("#selection-info", "data-selected"))
    assert 0 < lasso < rectangle


def test_brushed_histograms_are_numpys_on_the_served_columns(page: Any, server: str) -> None:
    """The page's selection histograms against numpy on the same payloads (exact counts)."""
    sign_in(page, server)
    page.wait_for_selector("#catalogue")
    page.fill("#catalogue", "cluster_sim_c")
    page.select_option("#method", "pca")
    page.press("#catalogue", "Enter")
    page.wait_for_selector("#map-box[data-state=ready]", timeout=120_000)
    x0, x1, y0, y1 = page.evaluate("window.acieExplorer.bounds()")
    rect = (x0 + 0.2 * (x1 - x0), y0 + 0.3 * (y1 - y0), x0 + 0.7 * (x1 - x0), y1)
    page.evaluate("r => window.acieExplorer.brushRect(...r)", list(rect))

    with httpx.Client(base_url=server, timeout=60) as api:
        api.post("/v1/session/login", json={"username": "alice", "password": PASSWORD})
        q = {"catalogue": "cluster_sim_c", "method": "pca"}
        xy, _ = decode_columns(api.get("/v1/explorer/projection", params=q).content)
        props, _ = decode_columns(
            api.get("/v1/explorer/properties", params={"catalogue": "cluster_sim_c"}).content
        )
    x, y = xy["x"].astype(np.float64), xy["y"].astype(np.float64)
    inside = (x >= rect[0]) & (x <= rect[2]) & (y >= rect[1]) & (y <= rect[3])
    assert int(page.get_attribute("#selection-info", "data-selected")) == int(inside.sum())
    assert 0 < inside.sum() < len(x)
    for name in ("mass", "redshift", "log_sfr"):
        v = props[name].astype(np.float64)
        lo, hi = v.min(), v.max()
        bins = np.minimum(39, np.floor((v - lo) * (40 / (hi - lo)))).astype(int)
        expected = np.bincount(bins[inside], minlength=40)
        assert selection_counts(page, name) == expected.tolist(), name


def test_job_progress_reconnects_after_a_dropped_socket(page: Any, server: str) -> None:
    """The first progress socket is dropped (code 1011): the page reconnects and finishes."""
    attempts: list[str] = []

    def drop_the_first(ws: Any) -> None:
        attempts.append(ws.url)
        if len(attempts) == 1:
            ws.close(code=1011, reason="dropped by the test")
        else:
            ws.connect_to_server()

    page.route_web_socket(re.compile(r".*/v1/jobs/[^/]+/progress$"), drop_the_first)
    sign_in(page, server)
    page.wait_for_selector("#catalogue")
    page.fill("#catalogue", "cluster_sim_d")
    page.select_option("#method", "pca")
    page.press("#catalogue", "Enter")
    page.wait_for_selector("#map-box[data-state=ready]", timeout=120_000)
    x0, x1, y0, y1 = page.evaluate("window.acieExplorer.bounds()")
    page.evaluate("r => window.acieExplorer.brushRect(...r)", [x0, y0, x1, y1])
    page.wait_for_selector("#cf-submit:not([disabled])")
    page.fill("#cf-amount", "1.5")
    page.fill("#cf-sample", "8")
    page.click("#cf-submit")
    page.wait_for_selector(".progress[data-state=COMPLETE]", timeout=120_000)
    assert len(attempts) >= 2
    page.wait_for_selector("#selection-result[data-state=complete]", timeout=30_000)
