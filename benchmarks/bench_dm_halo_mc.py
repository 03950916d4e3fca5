"""Benchmark: halo Monte Carlo of the σ̄e reach, 1000 draws × 30 masses, on one core.

Run: ``python benchmarks/bench_dm_halo_mc.py [n_draws]``. Goal: 1000 draws × 30 masses in
≤ 1 s on one core (set ``OMP_NUM_THREADS=1`` etc. for a strict one-core figure; the
script sets them before numpy loads).

ACIE: :func:`acie.darkmatter.halo_mc.electron_reach_draws` (draws from
:func:`acie.darkmatter.uncertainty.sample_halo_arrays`, consistent Earth speed).
Peer, in the same process: the previous implementation, a Python loop calling
:func:`acie.darkmatter.reach.electron_reach` once per sampled halo (what
``acie dm reach --halo-mc`` did); it runs on 40 draws and its per-draw time is scaled
to the full count for the ratio. Both are compared value by value on those 40 draws.
Table: the shipped Si form factor (200 q × 500 E), n_e ≥ 2, heavy mediator, SHM
(baxter2021, σ(v0) = 10 km/s, σ(vesc) = 30 km/s, σ(ρ) = 0.05 GeV/cm³).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import astropy.units as u  # noqa: E402
import numpy as np  # noqa: E402
from _timing import best_of  # noqa: E402
from scipy import stats  # noqa: E402

from acie.darkmatter.formfactor.shipped import shipped_table  # noqa: E402
from acie.darkmatter.halo_mc import electron_reach_draws  # noqa: E402
from acie.darkmatter.halo_parameters import resolve_halo  # noqa: E402
from acie.darkmatter.reach import electron_reach  # noqa: E402
from acie.darkmatter.uncertainty import sample_halo_arrays, sample_halos  # noqa: E402

N_PEER = 40


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    table = shipped_table("Si")
    h = resolve_halo("baxter2021")
    dists = {"v0": stats.norm(238, 10), "vesc": stats.norm(544, 30), "rho": stats.norm(0.3, 0.05)}
    masses = np.geomspace(1, 1000, 30) * u.MeV
    expo = 1 * u.kg * u.yr
    s_up = 2.302585

    def ours():
        arr = sample_halo_arrays(h, dists, n, seed=0)
        return electron_reach_draws(
            table, masses, expo, arr, base=h, signal_limit=s_up, ne_threshold=2
        )

    ours()  # warm caches (orbital velocities, table)
    t_ours = best_of(ours, 3)
    halos = sample_halos(h, dists, n, seed=0)[:N_PEER]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = np.stack(
            [
                electron_reach(
                    table, masses, expo, ne_threshold=2, halo=x, warn_beyond=None
                ).cross_section.to_value(u.cm**2)
                for x in halos
            ]
        )
    t_peer = (time.perf_counter() - t0) / N_PEER * n
    vec = ours().to_value(u.cm**2)[:N_PEER]
    ok = np.isfinite(peer)
    dev = float(np.max(np.abs(vec[ok] / peer[ok] - 1)))
    print(f"halo MC, {n} draws x {masses.size} masses (Si, n_e >= 2, SHM)")
    print(f"  ACIE vectorised      {t_ours:8.3f} s   (goal <= 1 s)")
    print(f"  per-draw loop (peer) {t_peer:8.3f} s   (measured on {N_PEER} draws, scaled)")
    print(f"  ratio peer/ACIE      {t_peer / t_ours:8.1f}x")
    print(f"  max |ACIE/peer - 1| on {N_PEER} draws: {dev:.2e}")


if __name__ == "__main__":
    main()
