"""Ablation of the retrieval refiner against the simulator's exact counterfactuals.

Held-out galaxies (seeded, not used in training), one intervention per node of
:data:`acie.deepscm.retrieval_training.INTERVENTIONS` (the deep SCM report's) at its shift. Each
counterfactual is scored against the simulator's exact counterfactual in four
settings:

``plain``
    the deep SCM alone (what ``k = 0`` returns, checked bit for bit);
``retrieval k=4``, ``retrieval k=16``
    refined with the features of the ``k`` nearest reference-bank galaxies of the
    query (factual) image;
``random k=16``
    refined with 16 random bank galaxies: the control that tells what the refiner
    gains from *retrieval* rather than from refining at all.

Metrics (means over galaxies; pixel units: each band's sky-noise sigma):

``pixel_rms``
    RMS(x' - x_true);
``hf_rms``
    RMS of the part of x' - x_true above ``hf_min`` cycles/pixel;
``hf_power_dex``
    mean over bands and radial bins with ``hf_min <= |k| < 0.5`` cycles/pixel of
    ``|log10 P'(k) / P_true(k)|``, P the radially averaged power spectrum;
``hf_power_bias_dex``
    the same without the absolute value (negative = too little power, smoothed);
``log_l_mae``, ``log_re_mae``
    image-based luminosity and size (:mod:`acie.galaxy.measure`, aperture method) of
    x' vs of x_true [dex], the unit-level errors of the deep SCM report;
``effectiveness_mae``
    the model's re-abducted intervened property vs the intended value [node unit];
``moved_log_flux_max``, ``moved_log_re_mean``
    how far the refinement moved the measured r-band flux (max |dlog10|) and size
    (mean |dlog10|) from the plain counterfactual [dex]: the "must not move physical
    properties" check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from acie.deepscm.retrieval_refiner import RetrievalRefiner
from acie.deepscm.retrieval_training import Bank, Pairs

if TYPE_CHECKING:
    from acie.deepscm.engine import CounterfactualEngine
    from acie.galaxy.batch import GalaxyBatch

__all__ = ["ablation", "measure", "radial_power"]


def radial_power(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum (n, C, H // 2) and bin centres [cycles/pixel].

    ``P(k) = <|FFT(x)|^2> / (H W)`` over the modes with ``|k|`` in each of ``H // 2``
    equal bins of [0, 0.5) cycles/pixel (width ``1 / H``, so none is empty).
    """
    x = np.asarray(images, np.float64)
    h, w = x.shape[-2:]
    n_bins = h // 2
    p = np.abs(np.fft.fft2(x)) ** 2 / (h * w)
    k = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    edges = np.linspace(0.0, 0.5, n_bins + 1)
    which = np.digitize(k, edges) - 1
    out = np.empty((*x.shape[:-2], n_bins))
    for b in range(n_bins):
        sel = which == b
        out[..., b] = p[..., sel].mean(-1)
    return out, 0.5 * (edges[1:] + edges[:-1])


def measure(images: np.ndarray, batch: GalaxyBatch) -> dict[str, np.ndarray]:
    """Aperture luminosity and size [dex] of images, by :mod:`acie.galaxy.measure`.

    Distances and PSF come from the simulated ``batch``.
    """
    from acie.galaxy.measure import measure_properties

    m = measure_properties(
        images,
        bands=batch.bands,
        pixel_scale=batch.pixel_scale,
        luminosity_distance=batch.luminosity_distance,
        angular_diameter_distance=batch.angular_diameter_distance,
        psf_fwhm=batch.nuisances["psf_fwhm"],
    )
    return {k: np.asarray(m[k], dtype=np.float64) for k in ("log_luminosity", "log_size")}


def _hf_rms(d: np.ndarray, hf_min: float) -> np.ndarray:
    h, w = d.shape[-2:]
    k = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    hp = np.real(np.fft.ifft2(np.fft.fft2(d) * (k >= hf_min)))
    return np.sqrt(np.mean(hp**2, axis=(1, 2, 3)))


def _scores(
    img: np.ndarray,
    plain: np.ndarray,
    pairs: Pairs,
    sl: slice,
    batch: GalaxyBatch,
    engine: CounterfactualEngine,
    node: str,
    hf_min: float,
) -> dict[str, float]:
    sig = np.asarray(engine.noise_sigma, np.float64)[None, :, None, None]
    true = pairs.true[sl]
    d = (img.astype(np.float64) - true) / sig
    pm, kc = radial_power(img / sig)
    pt, _ = radial_power(true / sig)
    hf = kc >= hf_min
    lr = np.log10(pm[..., hf] / pt[..., hf])
    m, mt, mp = measure(img, batch), measure(true, batch), measure(plain, batch)
    re, _ = engine.infer_properties(img)
    ib = tuple(batch.bands).index("r")
    fl = np.log10(np.abs(img[:, ib].sum((1, 2))) / np.abs(plain[:, ib].sum((1, 2))))
    return {
        "pixel_rms": float(np.mean(np.sqrt(np.mean(d**2, axis=(1, 2, 3))))),
        "hf_rms": float(np.mean(_hf_rms(d, hf_min))),
        "hf_power_dex": float(np.mean(np.abs(lr))),
        "hf_power_bias_dex": float(np.mean(lr)),
        "log_l_mae": float(np.nanmean(np.abs(m["log_luminosity"] - mt["log_luminosity"]))),
        "log_re_mae": float(np.nanmean(np.abs(m["log_size"] - mt["log_size"]))),
        "effectiveness_mae": float(np.mean(np.abs(re[node] - pairs.target[sl]))),
        "moved_log_flux_max": float(np.max(np.abs(fl))),
        "moved_log_re_mean": float(np.nanmean(np.abs(m["log_size"] - mp["log_size"]))),
    }


def ablation(
    engine: CounterfactualEngine,
    refiner: RetrievalRefiner,
    bank: Bank,
    pairs: Pairs,
    embed: Callable[[np.ndarray], np.ndarray],
    *,
    ks: tuple[int, ...] = (4, 16),
    control_k: int = 16,
    seed: int = 0,
    hf_min: float = 0.25,
) -> dict[str, object]:
    """The ablation table (module docstring) over ``pairs`` made with ``jitter=False``.

    Returns ``{"rows": {setting: {"all": metrics, node: metrics, ...}}, ...}``.
    """
    n = pairs.model.shape[0]
    k_max = max((*ks, control_k))
    idx, _ = bank.nearest(embed(pairs.factual), k_max)
    rng = np.random.default_rng(seed)
    rand = rng.integers(0, len(bank.features), (n, control_k))
    zero = refiner.refine(pairs.model, np.zeros((n, 0, refiner.feature_dim), np.float32))
    if not np.array_equal(zero, pairs.model):
        raise AssertionError("k = 0 must return the plain model's images bit for bit")
    images = {"plain": pairs.model}
    for k in ks:
        images[f"retrieval k={k}"] = refiner.refine(pairs.model, bank.features[idx[:, :k]])
    images[f"random k={control_k}"] = refiner.refine(pairs.model, bank.features[rand])
    rows: dict[str, dict[str, dict[str, float]]] = {name: {} for name in images}
    start = 0
    for node, b, _ in pairs.batches:
        sl = slice(start, start + len(b))
        start += len(b)
        for name, img in images.items():
            rows[name][node] = _scores(img[sl], pairs.model[sl], pairs, sl, b, engine, node, hf_min)
    for name in rows:
        per = list(rows[name].values())
        rows[name] = {"all": {m: float(np.mean([p[m] for p in per])) for m in per[0]}, **rows[name]}
    return {
        "n_galaxies": n,
        "dropped": pairs.dropped,
        "hf_min_cycles_per_pixel": hf_min,
        "units": {
            "pixel_rms, hf_rms": "sky-noise sigma of the band",
            "hf_power_dex, hf_power_bias_dex": "dex of the radially averaged power spectrum",
            "log_l_mae, log_re_mae, moved_*": "dex",
            "effectiveness_mae": "unit of the intervened node",
        },
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m acie.deepscm.retrieval_ablation --refiner PATH --out FILE.json``."""
    import argparse
    import json
    from pathlib import Path

    import torch

    from acie._files import atomic_output
    from acie.deepscm.engine import load_default_model
    from acie.deepscm.retrieval_training import embedder_named, make_bank, make_pairs
    from acie.galaxy.simulator import GalaxySimulator

    ap = argparse.ArgumentParser(description="Ablation of the retrieval refiner.")
    ap.add_argument("--refiner", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-per-node", type=int, default=200)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--bank", type=int, default=2000)
    ap.add_argument("--bank-seed", type=int, default=10_000)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    engine = load_default_model(threads=1)
    refiner = RetrievalRefiner.load(args.refiner)
    embed, name = embedder_named(refiner.embedder.split(":")[0], engine)
    if name != refiner.embedder:
        print(f"warning: refiner trained on features of {refiner.embedder}, given {name}")
    sim = GalaxySimulator(image_size=engine.image_shape[1])
    bank = make_bank(sim, embed, n=args.bank, seed=args.bank_seed)
    pairs = make_pairs(engine, sim, n_per_node=args.n_per_node, seed=args.seed, jitter=False)
    out = ablation(engine, refiner, bank, pairs, embed, seed=args.seed)
    out = {
        "refiner_version": refiner.version,
        "deepscm_version": engine.model_version,
        "embedder": name,
        "args": vars(args),
        **out,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(out, indent=2))
    print(json.dumps(out["rows"], indent=1)[:4000])


if __name__ == "__main__":
    main()
