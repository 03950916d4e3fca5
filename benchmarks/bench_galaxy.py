"""Benchmark: the vectorised Gaussian-mixture Sérsic renderer against GalSim, same run.

Run: ``python benchmarks/bench_galaxy.py [--n 2000] [--peer 100] [--dataset 0]``.

Renders simulator galaxies (64x64, Sérsic * Gaussian PSF, one band) with
``acie.galaxy.render.render_sersic`` and the peer, GalSim 2.8
(``galsim.Convolve(galsim.Sersic(...).shear(...), galsim.Gaussian(...)).drawImage``),
on the same parameters. GalSim is timed twice: with each galaxy's own Sérsic index (a new
Hankel table per index, as a simulator with continuous n needs) and with n rounded to
0.05 so that GalSim's per-index cache is warm (its best case). Prints throughput, the
ratios, and the largest pixel difference relative to each image's peak. With
``--dataset N`` it also times ``write_dataset`` for N galaxies (3 bands, float16 HDF5).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="galaxies for the vectorised renderer")
    ap.add_argument("--peer", type=int, default=100, help="galaxies for GalSim")
    ap.add_argument("--dataset", type=int, default=0, help="also time a dataset of this size")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved timing rounds (best kept)")
    args = ap.parse_args()

    import galsim

    from acie.galaxy.render import render_sersic, sersic_mixture
    from acie.galaxy.simulator import GalaxySimulator

    sim = GalaxySimulator(image_size=64, bands=("r",), seed=0)
    b = sim.sample(args.n, seed=1, render=False)
    z = b.nuisances["redshift"]
    flux = b.flux[:, 0]
    re = sim.half_light_radius_pixels(b.properties["log_size"], z)
    n_s = b.properties["sersic_n"]
    q, pa = b.nuisances["axis_ratio"], b.nuisances["position_angle"]
    fwhm = b.nuisances["psf_fwhm"] / sim.pixel_scale

    t0 = time.perf_counter()
    sersic_mixture()
    t_table = time.perf_counter() - t0

    def peer(idx, n_values):
        out = []
        for i, nv in zip(idx, n_values, strict=True):
            prof = galsim.Sersic(float(nv), half_light_radius=float(re[i]), flux=float(flux[i]))
            prof = prof.shear(q=float(q[i]), beta=float(pa[i]) * galsim.radians)
            img = galsim.Convolve(prof, galsim.Gaussian(fwhm=float(fwhm[i])))
            out.append(img.drawImage(nx=64, ny=64, scale=1.0).array)
        return np.array(out)

    idx = np.arange(min(args.peer, args.n))
    n_round = np.round(n_s[idx] * 20) / 20
    t0 = time.perf_counter()
    ref = peer(idx, n_s[idx])  # cold: a new Hankel table for every index
    t_peer = time.perf_counter() - t0
    # The machine is shared: interleave the warm measurements and keep the best of
    # `args.repeat` rounds of each, so that both sides see the same load.
    best_ours = best_ours_small = best_peer_cached = np.inf
    peer(idx, n_round)  # warm GalSim's per-index caches: the timed passes are its best case
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = render_sersic(flux, re, n_s, q, pa, fwhm, image_size=64)[:, 0]
        best_ours = min(best_ours, (time.perf_counter() - t0) / args.n)
        t0 = time.perf_counter()
        render_sersic(flux[idx], re[idx], n_s[idx], q[idx], pa[idx], fwhm[idx], image_size=64)
        best_ours_small = min(best_ours_small, (time.perf_counter() - t0) / idx.size)
        t0 = time.perf_counter()
        peer(idx, n_round)
        best_peer_cached = min(best_peer_cached, (time.perf_counter() - t0) / idx.size)

    err = np.abs(ours[idx] - ref).max(axis=(1, 2)) / ref.max(axis=(1, 2))
    ferr = np.abs(ours[idx].sum(axis=(1, 2)) / ref.sum(axis=(1, 2)) - 1)
    per_ours = best_ours
    print(
        f"galaxies: ours {args.n} (and the peer's {idx.size}), GalSim {idx.size}; 64x64, one band,"
        f" Sersic * Gaussian PSF; best of {args.repeat} interleaved rounds"
    )
    print(f"mixture table (once per process): {t_table * 1e3:.0f} ms")
    print(
        f"ours   : {per_ours * 1e3:8.3f} ms/galaxy  ({1 / per_ours:8.0f} galaxies/s, batch of {args.n})"
    )
    print(f"ours   : {best_ours_small * 1e3:8.3f} ms/galaxy  (batch of {idx.size})")
    print(
        f"GalSim : {t_peer / idx.size * 1e3:8.3f} ms/galaxy  (own n per galaxy, cold)  "
        f"ratio {t_peer / idx.size / per_ours:6.1f}x"
    )
    print(
        f"GalSim : {best_peer_cached * 1e3:8.3f} ms/galaxy  (n cached, warm)         "
        f"ratio {best_peer_cached / per_ours:6.1f}x"
    )
    print(
        f"accuracy vs GalSim: max |pixel diff| / peak = {err.max():.2e} (median {np.median(err):.1e});"
        f" stamp flux rel. diff max {ferr.max():.1e}"
    )

    if args.dataset:
        from acie.galaxy.dataset import write_dataset

        sim3 = GalaxySimulator(image_size=64, seed=0)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            path = write_dataset(Path(d) / "bench.h5", sim3, args.dataset, seed=0, progress=False)
            dt = time.perf_counter() - t0
            size = path.stat().st_size
        print(
            f"dataset: {args.dataset} galaxies x 3 bands in {dt:.1f} s "
            f"({args.dataset / dt:.0f} galaxies/s), {size / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
