#!/usr/bin/env python
"""Fine-tune a deep SCM with counterfactual training against an independent predictor.

Usage::

    python scripts/finetune_counterfactual.py --init-from src/acie/deepscm/data/default.pt \
        --predictor src/acie/deepscm/data/predictor_train.pt --weight 100 --epochs 1 \
        --n-train 8000 --seed 0 --out build/deepscm-cftrain

The training galaxies are those of ``scripts/train_default_model.sh`` (simulator seeds
``seed + k`` in chunks of 500, the same 90 / 10 split); the interventions are drawn on
the galaxy properties (not the image nuisances). The evaluation predictor
(``data/predictor.pt``) is refused as ``--predictor``: see
``acie.deepscm.counterfactual_training``. Progress lines go to stdout; the checkpoint is
``OUT/model.pt`` and the history ``OUT/history.json``. Score it with
``scripts/compare_deepscm_models.py`` and ``acie model evaluate``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init-from", required=True, help="checkpoint to fine-tune")
    ap.add_argument("--predictor", required=True, help="training predictor (not the evaluation's)")
    ap.add_argument("--weight", type=float, default=100.0, help="weight of the counterfactual term")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-shift", type=float, default=1.0, help="relative shifts [std units]")
    ap.add_argument("--max-batches", type=int, default=None, help="per epoch (timing, checks)")
    ap.add_argument("--physics-weight", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from acie.deepscm.checkpoint import load_checkpoint, sha256_file
    from acie.deepscm.counterfactual_training import (
        CounterfactualTrainConfig,
        finetune_counterfactual,
        load_training_predictor,
    )
    from acie.deepscm.galaxy_data import simulate_training_set
    from acie.galaxy.constraints import penalty
    from acie.galaxy.properties import PROPERTY_NAMES

    ck = load_checkpoint(a.init_from)
    predictor = load_training_predictor(a.predictor)
    sim = ck.metadata.get("simulator", {})
    bands = tuple(sim.get("bands", ("g", "r", "i")) if isinstance(sim, dict) else "gri")
    t0 = time.perf_counter()
    images, values, _ = simulate_training_set(
        a.n_train, seed=a.seed, image_size=ck.images.shape[-1], bands=bands, progress=False
    )
    print(f"simulated {a.n_train} galaxies in {time.perf_counter() - t0:.0f} s", flush=True)
    cfg = CounterfactualTrainConfig(
        weight=a.weight,
        epochs=a.epochs,
        batch_size=a.batch_size,
        learning_rate=a.lr,
        seed=a.seed,
        max_shift=a.max_shift,
        physics_weight=a.physics_weight,
        nodes=tuple(k for k in PROPERTY_NAMES if k in ck.model.property_names),
        max_batches=a.max_batches,
        threads=a.threads,
    )
    result = finetune_counterfactual(
        checkpoint=ck,
        images=images,
        properties=values,
        predictor=predictor,
        out_dir=a.out,
        config=cfg,
        physics_penalty=penalty if a.physics_weight > 0 else None,
        metadata={
            "command": "python scripts/finetune_counterfactual.py "
            + " ".join(shlex.quote(v) for v in sys.argv[1:]),
            "training_predictor": sha256_file(a.predictor),
            "data_seed": a.seed,
        },
        log=lambda m: print(m, flush=True),
    )
    print(
        json.dumps(
            {
                "checkpoint": str(result.checkpoint),
                "model_version": result.model_version,
                "seconds_per_epoch": round(result.seconds_per_epoch, 1),
                "history": result.history,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
