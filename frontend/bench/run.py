"""Renderer comparison: frontend/src/scatter.ts against regl-scatterplot in headless Chromium.

Run from frontend/bench: ``npm ci && npx vite build --outDir dist`` then
``python run.py mine,regl``. Prints, per renderer and size, the first frame from typed
arrays, the panned-frame p95 and the selection-update p95 in milliseconds, each waiting
for the GPU (a one-pixel read). Debian's chromium with software WebGL (SwiftShader).
"""

import functools
import http.server
import json
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

DIST = Path(__file__).with_name("dist")
ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]

handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DIST))
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
port = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
with sync_playwright() as p:
    for which in (sys.argv[1] if len(sys.argv) > 1 else "mine,regl").split(","):
        for n in (100_000, 1_000_000):
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            pg = b.new_page(viewport={"width": 1100, "height": 800})
            pg.goto(f"http://127.0.0.1:{port}/index.html")
            pg.wait_for_function("window.benchReady")
            print(which, n, json.dumps(pg.evaluate(f"runBench('{which}', {n})")), flush=True)
            b.close()
srv.shutdown()
