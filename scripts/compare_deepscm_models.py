#!/usr/bin/env python
"""Score deep-SCM checkpoints against the simulator's exact counterfactuals (held-out set).

Usage: ``python scripts/compare_deepscm_models.py OUT.json CKPT [CKPT ...] [--n 500]``

For ``do(M* x 2)`` (a relative intervention: +log10 2 dex on each galaxy's own abducted
stellar mass) on ``n`` held-out galaxies (simulator seed 12345; training used seeds
0..15), per checkpoint: held-out causal ELBO with the true properties [nats/galaxy, in
the stretched coordinates shared by all models]; per-galaxy errors of the change of
r-band flux [dex], half-light radius [dex] and g-r colour [mag] against the truth;
the spurious-quenching rate (truly star-forming galaxies whose counterfactual log SFR
drops by more than 0.3 dex where the truth's does not) and the missed-quenching rate
(the truth's drops, the model's does not); the core-noise ratio model / truth; reversibility (undo
the shift on the counterfactual) and composition after 1 and 10 null cycles, as mean
L1 in sky sigma. The metric definitions are those of ``acie.deepscm.evaluation_metrics``.
Everything is seeded; torch runs on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch

from acie.deepscm import evaluation_metrics as em
from acie.deepscm.checkpoint import load_checkpoint
from acie.deepscm.evaluation_tasks import star_forming
from acie.galaxy.simulator import GalaxySimulator

SHIFT_DEX = math.log10(2.0)


def _q(v: np.ndarray) -> dict[str, float]:
    v = v[np.isfinite(v)]
    return {
        "median": float(np.median(v)),
        "p95": float(np.quantile(v, 0.95)),
        "p05": float(np.quantile(v, 0.05)),
        "n": int(v.size),
    }


def score(path: str, n: int) -> dict[str, object]:
    torch.manual_seed(0)
    ck = load_checkpoint(path)
    model, props, imgs = ck.model, ck.properties, ck.images
    sim = GalaxySimulator(seed=12345)
    batch = sim.sample(n, seed=12345)
    new_ms = batch.properties["log_stellar_mass"] + SHIFT_DEX
    true_cf = sim.counterfactual(batch, {"log_stellar_mass": new_ms})
    clean_f = sim.render(batch.properties, batch.nuisances, add_noise=False)
    clean_t = sim.render(true_cf.properties, true_cf.nuisances, add_noise=False)
    x, t = batch.images.astype(np.float32), true_cf.images
    sigma = np.array([sim.sky_sigma[b] for b in sim.bands])
    i_ms = props.names.index("log_stellar_mass")
    i_sfr = props.names.index("log_sfr")
    shift_std = SHIFT_DEX / props.std[i_ms]

    def cf(
        images: np.ndarray, shift: float | None
    ) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        xt = imgs.forward(torch.from_numpy(images))
        ab = model.abduct(xt)
        do = {} if shift is None else {"log_stellar_mass": ab.s[:, i_ms] + shift}
        s_cf = model.act(ab, do)
        return imgs.inverse(model.predict(ab, s_cf)).numpy(), ab.s, s_cf

    t0 = time.process_time()
    with torch.no_grad():
        s_true = torch.from_numpy(
            props.encode({k: batch.properties.get(k, batch.nuisances.get(k)) for k in props.names})
        )
        xt = imgs.forward(torch.from_numpy(x))
        elbo = float(model.elbo_terms(xt, s_true).elbo.mean())
        m, s_f, s_cf = cf(x, shift_std)
        undo, _, _ = cf(m, -shift_std)
        null1, _, _ = cf(x, None)
        cyc = x
        for _ in range(10):
            cyc, _, _ = cf(cyc, None)
    seconds = time.process_time() - t0
    sf = star_forming(batch)
    d_sfr = (s_cf[:, i_sfr] - s_f[:, i_sfr]).numpy() * props.std[i_sfr]
    d_sfr_true = true_cf.properties["log_sfr"] - batch.properties["log_sfr"]
    fm, ft = em.flux_delta(x, m, 1), em.flux_delta(x, t, 1)
    psf = np.asarray(batch.nuisances["psf_fwhm"]) / sim.pixel_scale
    rm, rt = em.size_delta(x, m, 1, psf), em.size_delta(x, t, 1, psf)
    cm, ct = em.colour_delta(x, m, 0, 1), em.colour_delta(x, t, 0, 1)
    core = em.core_mask(clean_f, clean_t, sigma)
    noise_ratio = em.core_noise_rms(m, clean_t, core, sigma) / em.core_noise_rms(
        t, clean_t, core, sigma
    )
    changed = em.changed_pixels(x, t, sigma)
    return {
        "checkpoint": path,
        "model_version": ck.version,
        "n": n,
        "heldout_elbo_nats_per_galaxy": elbo,
        "flux_ratio_model": _q(10**fm),
        "flux_ratio_truth": _q(10**ft),
        "dimmer_fraction_model": float(np.nanmean(fm < 0)),
        "dimmer_fraction_truth": float(np.nanmean(ft < 0)),
        "dlogflux_error_dex": _q(np.abs(fm - ft)),
        "dlogRe_model": _q(rm),
        "dlogRe_truth": _q(rt),
        "dlogRe_error_dex": _q(np.abs(rm - rt)),
        "colour_error_mag": _q(np.abs(cm - ct)),
        # as acie.deepscm.evaluation: over truly star-forming galaxies, the model's
        # counterfactual drops log SFR by more than 0.3 dex where the truth's does not
        "spurious_quenching_rate": float(np.mean(((d_sfr < -0.3) & (d_sfr_true >= -0.3))[sf])),
        "missed_quenching_rate": float(np.mean(((d_sfr >= -0.3) & (d_sfr_true < -0.3))[sf])),
        "true_quenching_rate": float(np.mean(d_sfr_true[sf] < -0.3)),
        "core_noise_ratio": _q(noise_ratio),
        "reversibility_l1_sigma_changed_pixels": _q(em.l1_sigma(undo, x, sigma, changed)),
        "composition_1_l1_sigma": _q(em.l1_sigma(null1, x, sigma)),
        "composition_10_l1_sigma": _q(em.l1_sigma(cyc, x, sigma)),
        "cpu_seconds": seconds,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--n", type=int, default=500)
    a = ap.parse_args()
    torch.set_num_threads(1)
    res = [score(p, a.n) for p in a.checkpoints]
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
