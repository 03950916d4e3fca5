"""The explorer's map: payload bytes per point and projection time for a 100k catalogue.

Payload: the column payload the server sends (``acie.wire.typed_arrays``, float32 x, y and
uint32 id) against Arrow IPC of the same three columns (pyarrow) and against JSON numbers
(what the explorer must not send), all in this process. Projection: ``acie.analysis.
projection.project`` (standardise + PCA) against scikit-learn's PCA called directly on
the same standardised matrix; ``--umap`` also times UMAP (minutes at 100k on 2 cores).

``--browser`` runs the explorer web app in headless Chromium against plotly's scattergl on
the same data, for ``--sizes`` (default 100,000 and 1,000,000 points): first render,
brush-to-histogram p95, pan/zoom frame p95, payload bytes per point, and the galaxy
counterfactual round trip (slider release to images) on CPU (``_explorer_browser.py``;
run ``npm ci`` in ``benchmarks/explorer_plotly`` first).

Run: ``python benchmarks/bench_explorer.py [--n 100000] [--repeat 3] [--umap]`` or
``python benchmarks/bench_explorer.py --browser [--sizes 100000,1000000] [--json FILE]``
"""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
from _timing import best_of


def main() -> None:
    import pyarrow as pa
    from sklearn.decomposition import PCA

    from acie.analysis.embedding_catalogues import load_embedding_catalogue
    from acie.analysis.projection import project
    from acie.wire.typed_arrays import encode_columns

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--umap", action="store_true")
    parser.add_argument("--browser", action="store_true", help="Chromium vs plotly scattergl")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--brushes", type=int, default=30)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--round-trips", type=int, default=20)
    parser.add_argument("--json", default=None, help="also write the browser numbers here")
    args = parser.parse_args()
    if args.browser:
        from _explorer_browser import run

        sizes = [int(s) for s in args.sizes.split(",") if s]
        out = run(sizes, n_brush=args.brushes, n_frames=args.frames, round_trips=args.round_trips)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(out, fh, indent=1)
        return

    cat = load_embedding_catalogue(f"sim_{args.n}")
    xy, _ = project(cat.embeddings, "pca")
    x, y, ids = xy[:, 0], xy[:, 1], cat.ids

    def ours() -> bytes:
        return encode_columns({"x": x, "y": y, "id": ids}, meta={"catalogue": cat.name})

    def arrow() -> bytes:
        table = pa.table({"x": x, "y": y, "id": ids})
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue()

    def as_json() -> bytes:
        return json.dumps({"x": x.tolist(), "y": y.tolist(), "id": ids.tolist()}).encode()

    n = len(cat)
    print(f"catalogue {cat.name}: {n} points, embedding dim {cat.embeddings.shape[1]}")
    print(f"{'payload':<12} {'bytes/point':>11} {'encode [ms]':>11} {'size vs ours':>12}")
    base = len(ours())
    for name, fn in (("acie ACOL", ours), ("Arrow IPC", arrow), ("JSON", as_json)):
        size = len(fn())
        t = best_of(fn, args.repeat)
        print(f"{name:<12} {size / n:>11.3f} {t * 1e3:>11.2f} {size / base:>12.2f}")

    z = cat.embeddings.astype(np.float64)
    z = ((z - z.mean(0)) / z.std(0)).astype(np.float32)
    t_ours = best_of(lambda: project(cat.embeddings, "pca"), args.repeat)
    t_peer = best_of(lambda: PCA(n_components=2, random_state=0).fit_transform(z), args.repeat)
    print(f"{'projection':<12} {'acie [s]':>9} {'sklearn PCA [s]':>15} {'ratio':>6}")
    print(f"{'pca':<12} {t_ours:>9.3f} {t_peer:>15.3f} {t_ours / t_peer:>6.2f}")
    if args.umap:
        t_umap = best_of(lambda: project(cat.embeddings, "umap"), 1)
        print(f"{'umap':<12} {t_umap:>9.3f} {'':>15} {t_umap / t_peer:>6.1f} x sklearn PCA")


if __name__ == "__main__":
    main()
