#!/usr/bin/env python
"""Fine-tune a deep SCM's property encoder on the model's own counterfactual images.

Usage::

    python scripts/finetune_encoder_cycle.py --init-from src/acie/deepscm/data/default.pt \
        --weight 100 --epochs 2 --n-train 8000 --seed 0 --out build/deepscm-cycle-w100

The training galaxies, split, interventions and optimiser are those of
``scripts/finetune_counterfactual.py`` (``weight 0`` here reproduces its ``weight 0``
run); the added term is the cycle term of ``acie.deepscm.encoder_cycle``. Progress lines
go to stdout; the checkpoint is ``OUT/model.pt`` and the history ``OUT/history.json``.
Score it with ``scripts/compare_deepscm_models.py`` and ``acie model evaluate``.
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
    ap.add_argument("--weight", type=float, default=100.0, help="weight of the cycle term")
    ap.add_argument("--epochs", type=int, default=2)
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

    from acie.deepscm.checkpoint import load_checkpoint
    from acie.deepscm.counterfactual_training import CounterfactualTrainConfig
    from acie.deepscm.encoder_cycle import finetune_encoder_cycle
    from acie.deepscm.galaxy_data import simulate_training_set
    from acie.galaxy.constraints import penalty
    from acie.galaxy.properties import PROPERTY_NAMES

    ck = load_checkpoint(a.init_from)
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
    result = finetune_encoder_cycle(
        checkpoint=ck,
        images=images,
        properties=values,
        out_dir=a.out,
        config=cfg,
        physics_penalty=penalty if a.physics_weight > 0 else None,
        metadata={
            "command": "python scripts/finetune_encoder_cycle.py "
            + " ".join(shlex.quote(v) for v in sys.argv[1:]),
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
