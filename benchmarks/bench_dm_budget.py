"""Benchmark: systematic budget of the σ̄e reach, 1000 draws × 30 masses, on one core.

Run: ``python benchmarks/bench_dm_budget.py [n_draws] [material] [halo]``. Goal: 1000 draws ×
30 masses in ≤ 1 s on one core (the script pins BLAS/OpenMP to one thread before numpy loads).

With a stream set (``shm+S1``) the per-draw peer does not apply (``electron_reach`` has no
stream): the script times the budget with and without the stream (``shmpp2019-round``, the
same halo draws) and checks the budget's joint draws, which mix the stream into the counts,
against :func:`acie.darkmatter.halo_mc.electron_reach_draws`, which mixes it into η.

ACIE: :func:`acie.darkmatter.budget.reach_budget` — the one-at-a-time scenarios (v0, vesc,
ρ, convergence, functional, table uncertainty) and the joint run, halo set
``shmpp2019-round`` (v0 = 233 ± 3, vesc = 528 ± 25 km/s, ρ = 0.55 ± 0.17 GeV/cm³), form-factor
systematics computed from the shipped Ge k-mesh series, n_e ≥ 2, heavy mediator.
Peer, in the same process: the per-draw loop,
:func:`acie.darkmatter.budget.budget_reach_loop` (one
:func:`acie.darkmatter.reach.electron_reach` per draw and scenario: 3 halo scenarios
with their own η — v0, vesc, joint — as the vectorised code evaluates); it runs on 20
draws of the joint scenario, and its per-draw time is scaled to 3 × n draws for the ratio.
Both are compared value by value on those 20 draws.
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

from acie.darkmatter.budget import (  # noqa: E402
    budget_reach_loop,
    counting_function,
    reach_budget,
)
from acie.darkmatter.formfactor.shipped import shipped_table  # noqa: E402
from acie.darkmatter.formfactor_systematics import (  # noqa: E402
    draw_scalings,
    formfactor_systematics,
)
from acie.darkmatter.halo_catalogue import get_catalogue_entry  # noqa: E402

N_PEER = 20


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    material = sys.argv[2] if len(sys.argv) > 2 else "Si"
    halo = sys.argv[3] if len(sys.argv) > 3 else "shmpp2019-round"
    table = shipped_table(material)
    masses = np.geomspace(1, 1000, 30) * u.MeV
    expo = 1 * u.kg * u.yr
    s_up = 2.302585
    if get_catalogue_entry(halo).stream is not None:
        stream_set(n, material, table, masses, expo, s_up, halo)
        return

    def ours():
        return reach_budget(
            table, masses, expo, signal_limit=s_up, halo=halo, n_draws=n, ne_threshold=2
        )

    ours()  # warm caches (orbital velocities, tables, convergence series)
    t_ours = best_of(ours, 3)
    b = ours()
    entry = get_catalogue_entry(halo)
    d = entry.draws(n, seed=0)
    counts = counting_function(masses, expo, entry, signal_limit=s_up, ne_threshold=2)
    scal = np.prod(
        list(draw_scalings(formfactor_systematics(table, counts), n, seed=1).values()), 0
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = budget_reach_loop(
            table,
            masses,
            expo,
            {k: v[:N_PEER] for k, v in d.items()},
            scal[:N_PEER],
            signal_limit=s_up,
            ne_threshold=2,
        )
    t_peer = (time.perf_counter() - t0) / N_PEER * 3 * n
    vec = b.samples.to_value(u.cm**2)[:N_PEER]
    ok = np.isfinite(peer) & np.isfinite(vec)
    rel = np.where(ok, np.abs(vec / np.where(ok, peer, 1.0) - 1), 0.0)
    dev, i_dev = float(rel.max()), int(np.argmax(rel.max(axis=0)))
    dev_rest = float(rel[:, masses.to_value(u.MeV) >= 2].max())
    print(f"reach budget, {n} draws x {masses.size} masses ({material}, n_e >= 2, {halo})")
    print(f"  ACIE vectorised      {t_ours:8.3f} s   (goal <= 1 s; all sources + joint run)")
    print(
        f"  per-draw loop (peer) {t_peer:8.3f} s   (measured on {N_PEER} draws, scaled to 3 x {n})"
    )
    print(f"  ratio peer/ACIE      {t_peer / t_ours:8.1f}x")
    print(
        f"  max |ACIE/peer - 1| on {N_PEER} joint draws: {dev:.2e} (at "
        f"{masses[i_dev]:.3g}, near the kinematic threshold); at masses >= 2 MeV {dev_rest:.2e}"
    )


def stream_set(n, material, table, masses, expo, s_up, halo) -> None:
    """Time the budget of a stream set against the same set without its stream."""
    from acie.darkmatter.halo_mc import electron_reach_draws

    kw = dict(signal_limit=s_up, n_draws=n, ne_threshold=2)
    times = {}
    for name in (halo, "shmpp2019-round"):
        reach_budget(table, masses, expo, halo=name, **kw)  # warm caches
        times[name] = best_of(
            lambda name=name: reach_budget(table, masses, expo, halo=name, **kw), 3
        )
    b = reach_budget(table, masses, expo, halo=halo, **kw)
    entry = get_catalogue_entry(halo)
    counts = counting_function(masses, expo, entry, signal_limit=s_up, ne_threshold=2)
    scal = np.prod(
        list(draw_scalings(formfactor_systematics(table, counts), n, seed=1).values()), 0
    )
    d = entry.draws(n, seed=0)
    eta_mixed = electron_reach_draws(
        table, masses, expo, d, base=entry.halo(), signal_limit=s_up, ne_threshold=2
    ).to_value(u.cm**2)
    vec = b.samples.to_value(u.cm**2) * scal
    ok = np.isfinite(vec) & np.isfinite(eta_mixed)
    rel = np.where(ok, np.abs(vec / np.where(ok, eta_mixed, 1.0) - 1), 0.0)
    share = np.nanmax(b.shares["halo stream_fraction"])
    print(f"reach budget, {n} draws x {masses.size} masses ({material}, n_e >= 2, {halo})")
    print(f"  ACIE vectorised, {halo:<16} {times[halo]:8.3f} s   (goal <= 1 s)")
    print(f"  same without the stream         {times['shmpp2019-round']:8.3f} s")
    print(f"  largest share of the stream fraction over the masses: {share:.3f}")
    print(f"  max |counts-mixed / eta-mixed - 1| on the joint draws: {rel.max():.2e}")


if __name__ == "__main__":
    main()
