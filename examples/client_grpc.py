"""Stream counterfactual requests to a running `acie serve` over gRPC.

Start the server (`acie serve`), then::

    python examples/client_grpc.py [--target HOST:GRPC_PORT] [--token TOKEN] [--wait 60]

The target defaults to the HOST and GRPC_PORT settings (127.0.0.1:50051). The example
first waits for the server's health to be SERVING (up to ``--wait`` seconds: a server
just started needs ~10 s to load and warm up its model), then sends one unary request,
then eight requests on one bidirectional stream; the answers
come back as they finish (out of order), matched by request id. One request asks for an
unknown variable on purpose: it comes back as an INVALID_ARGUMENT error for that request
alone, and the stream goes on.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    from acie.client import GrpcClient
    from acie.config import get_settings
    from acie.galaxy.simulator import GalaxySimulator

    settings = get_settings()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default=f"{settings.HOST}:{settings.GRPC_PORT}")
    ap.add_argument("--token", default=None)
    ap.add_argument("--wait", type=float, default=60.0, help="seconds to wait for SERVING")
    args = ap.parse_args()

    if args.token is None:
        from client_rest import local_token

        args.token = local_token()
    with GrpcClient(args.target, token=args.token) as client:
        health = client.health(wait=args.wait)
        print(
            f"server {health['status']}, model {health['model_version'][:12]}…, "
            f"GPUs {health['gpu_count']}"
        )
        gal = GalaxySimulator(image_size=64).sample(8, seed=11)
        lm = gal.properties["log_stellar_mass"]
        ans = client.counterfactual(gal.images[:1], {"log_stellar_mass": float(lm[0] + 0.301)})
        print(
            f"unary: confidence {ans.confidence[0]:.3f}, violation {ans.violation_score[0]:.4f}, "
            f"{ans.latency_ms:.1f} ms"
        )
        requests = [
            {
                "request_id": f"gal-{i}",
                "observation": gal.images[i : i + 1],
                "interventions": {"log_stellar_mass": float(np.clip(lm[i] + 0.301, 7, 12.5))},
            }
            for i in range(7)
        ]
        requests.append(
            {
                "request_id": "oops",
                "observation": gal.images[7:8],
                "interventions": {"dark_matter_fraction": 0.5},
            }
        )
        for out in client.stream(requests):
            if isinstance(out, Exception):
                print(f"{out.request_id}: error {out}")
            else:
                print(
                    f"{out.request_id}: confidence {out.confidence[0]:.3f}, "
                    f"violation {out.violation_score[0]:.4f}"
                )


if __name__ == "__main__":
    main()
