"""Ask a running `acie serve` a counterfactual over REST: "had this galaxy twice the stellar mass".

Start the server (`acie serve`), then::

    python examples/client_rest.py [--url URL] [--token TOKEN] [--out out/client_rest.png]

The URL defaults to the HOST and HTTP_PORT settings (http://127.0.0.1:8000); the example
first waits for the server's health to be SERVING (up to ``--wait`` seconds, 60 by
default). Without ``--token`` a researcher token is minted with this machine's local
secret (what `acie auth token` does). The galaxies come from ACIE's causal galaxy
simulator with the served model's bands and image size. The example runs one
synchronous counterfactual, then the same question as a queued job followed over the
WebSocket progress stream, and saves observed and counterfactual images side by side
(PNG, 300 dpi) into ``out/`` (git-ignored).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def local_token(sub: str = "example-user") -> str:
    from acie.config import get_settings
    from acie.serve.auth import load_or_create_local_secret, mint_token

    s = get_settings()
    secret = (
        s.JWT_SECRET.get_secret_value()
        if s.JWT_SECRET is not None
        else load_or_create_local_secret(s.ACIE_DATA_DIR)[0]
    )
    return mint_token(subject=sub, secret=secret, audience=s.JWT_AUDIENCE, issuer=s.JWT_ISSUER)


def main() -> None:
    from acie.client import RestClient
    from acie.config import get_settings
    from acie.galaxy.simulator import GalaxySimulator

    settings = get_settings()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=f"http://{settings.HOST}:{settings.HTTP_PORT}")
    ap.add_argument("--token", default=None)
    ap.add_argument("--out", default="out/client_rest.png")
    ap.add_argument("--wait", type=float, default=60.0, help="seconds to wait for SERVING")
    args = ap.parse_args()

    with RestClient(args.url, token=args.token or local_token()) as client:
        client.health(wait=args.wait)
        model = client.models()[0]
        c, h, _ = model["image_shape"]
        print(
            f"model {model['name']} {model['version'][:12]}…, images {tuple(model['image_shape'])}"
        )
        gal = GalaxySimulator(image_size=h, bands=("g", "r", "i")[:c]).sample(2, seed=7)
        target = np.clip(gal.properties["log_stellar_mass"] + np.log10(2.0), 7.0, 12.5)

        for i in range(2):
            ans = client.counterfactual(
                gal.images[i : i + 1], {"log_stellar_mass": float(target[i])}
            )
            print(
                f"galaxy {i}: log M* {gal.properties['log_stellar_mass'][i]:.2f} -> "
                f"{ans.counterfactual_properties['log_stellar_mass'][0]:.2f} dex; "
                f"confidence {ans.confidence[0]:.3f}, physics violation "
                f"{ans.violation_score[0]:.4f}, server {ans.latency_ms:.1f} ms"
            )

        job = client.submit_job(gal.images[:1], {"log_stellar_mass": float(target[0])})
        for msg in client.progress(job["job_id"]):
            print("job", job["job_id"][:8], "final" if msg.get("final") else msg["state"])
        done = client.wait(job["job_id"])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    band = min(1, c - 1)  # r band when present
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    extent = [0, h * 0.396, 0, h * 0.396]  # SDSS pixel scale, arcsec
    for ax, img, title in (
        (axes[0], gal.images[0, band], "observed"),
        (axes[1], done.images[0, band], "2x stellar mass (counterfactual)"),
    ):
        im = ax.imshow(np.arcsinh(img / 0.01), origin="lower", cmap="magma", extent=extent)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("x [arcsec]")
        ax.set_ylabel("y [arcsec]")
        fig.colorbar(im, ax=ax, fraction=0.046, label="asinh(flux / 0.01 nanomaggy)")
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=300)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
