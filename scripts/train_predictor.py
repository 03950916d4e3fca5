"""Train the independent property predictor shipped as ``acie/deepscm/data/predictor.pt``.

Seeded and CPU-only: ``python scripts/train_predictor.py --out PATH [--n 8000 --epochs 12
--seed 101]``. The training galaxies come from ``GalaxySimulator`` seeds ``seed + k``
(chunks of 500, via ``simulate_training_set``): seeds 101.. never overlap the deep SCM's
training seeds (0..15) nor the evaluation's held-out seed (12345). A separate held-out
set (seed ``seed + 10000``) gives the accuracy written into the file's metadata.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=8000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=101)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--bands", default="gri")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    from acie.deepscm.galaxy_data import simulate_training_set
    from acie.deepscm.predictors import save_predictor, train_predictor
    from acie.deepscm.realism import predictor_accuracy

    bands = tuple(a.bands)
    images, values, cfg = simulate_training_set(
        a.n, seed=a.seed, image_size=a.image_size, bands=bands, progress=False
    )
    soft = [cfg["sky_sigma"][b] for b in bands]
    t0 = time.perf_counter()
    pred, hist = train_predictor(
        images, values, softening=soft, seed=a.seed, epochs=a.epochs, width=a.width, log=True
    )
    seconds = time.perf_counter() - t0
    test_x, test_v, _ = simulate_training_set(
        a.n_test, seed=a.seed + 10000, image_size=a.image_size, bands=bands, progress=False
    )
    acc = predictor_accuracy(pred, test_x, test_v)
    meta = {
        "command": f"python scripts/train_predictor.py --n {a.n} --n-test {a.n_test} "
        f"--epochs {a.epochs} --seed {a.seed} --width {a.width} --image-size {a.image_size} "
        f"--bands {a.bands}",
        "simulator": cfg,
        "train_seeds": f"{a.seed} + k, chunks of 500",
        "test_seed": a.seed + 10000,
        "history": hist,
        "train_seconds": seconds,
        "test_accuracy": acc,
        "parameters": int(sum(p.numel() for p in pred.net.parameters())),
    }
    save_predictor(pred, a.out, meta)
    print(
        json.dumps(
            {"out": a.out, "train_seconds": round(seconds, 1), "test_accuracy": acc},
            indent=2,
            default=float,
        )
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
