"""Faults on a real Dask cluster: a worker killed mid-run, and a scan beyond a worker's memory.

The cluster (tests/compute/conftest.py) has 2 worker processes under nannies; killing one
with SIGKILL loses its running and held tasks, which Dask reschedules on the other (or the
restarted) worker. Results must still be complete and bit-identical to the local run.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from scipy import stats

from acie.darkmatter.halo_mc_scan import reach_scan
from acie.darkmatter.halo_parameters import resolve_halo

pytestmark = pytest.mark.slow

H = resolve_halo("baxter2021")
DISTS = {
    "v0": stats.norm(H.v0.value, 10.0),
    "vesc": stats.norm(H.vesc.value, 30.0),
    "rho": stats.norm(H.rho.value, 0.05),
}


def _scan(n, map_tasks=None, *, draws_per_task, n_masses=8):
    return reach_scan(
        "nuclear",
        np.geomspace(5.0, 1000.0, n_masses) * u.GeV,
        1.0 * u.kg * u.yr,
        DISTS,
        n,
        seed=11,
        base=H,
        signal_limit=2.3,
        draws_per_task=draws_per_task,
        map_tasks=map_tasks,
    ).to_value(u.cm**2)


def test_scan_survives_a_killed_worker_bit_identically(client, dask_executor, faults):
    ref = _scan(24_000, draws_per_task=1500)  # 16 tasks of ~0.1 s
    killed: list[int] = []
    got = _scan(
        24_000, faults.killing_after_first(dask_executor, client, killed), draws_per_task=1500
    )
    assert len(killed) == 1
    assert np.array_equal(got, ref)
    faults.wait_for_two_workers(client, killed[0])


def test_scan_larger_than_a_worker_memory_limit_completes(client, dask_executor):
    n = 60_000
    limits = {w["memory_limit"] for w in client.scheduler_info(n_workers=-1)["workers"].values()}
    (limit,) = limits
    # the premise: the scan's whole η matrix (1024 v_min nodes × draws, float64) would not
    # fit in one worker; its tasks (1000 draws each, ~8 MB of η) do
    assert 1024 * n * 8 > limit
    assert limit / 20 > 1024 * 1000 * 8
    got = _scan(n, dask_executor, draws_per_task=1000, n_masses=3)
    assert got.shape == (n, 3)
    assert np.all(np.isfinite(got))
    assert np.array_equal(got[:5000], _scan(5000, draws_per_task=1000, n_masses=3))


# the tiny silicon setting of tests/formfactor (seconds of DFT)
def _tiny():
    from acie.darkmatter.formfactor.settings import FormFactorSettings

    return FormFactorSettings(
        kmesh=(3, 1, 1),
        basis="gth-szv",
        pseudo="gth-pade",
        xc="lda,vwn",
        ke_cutoff=25.0,
        dq=0.05,
        n_q=80,
        dE=0.25,
        n_E=160,
        conv_tol=1e-9,
        pairs_per_block=1,
    )


def test_formfactor_resumes_on_the_cluster_after_a_killed_worker(
    tmp_path, client, dask_executor, faults
):
    from acie.compute.executor import SerialExecutor
    from acie.darkmatter.formfactor import dft
    from acie.darkmatter.formfactor.runner import compute_form_factor

    tiny = _tiny()
    bands = dft.run_dft("Si", tiny)
    run = dict(progress=False, bands=bands)
    ref = compute_form_factor("Si", tiny, map_tasks=SerialExecutor(), **run)
    plain = compute_form_factor("Si", tiny, **run)  # the in-process path, all threads
    np.testing.assert_allclose(ref.f2, plain.f2, rtol=1e-12, atol=1e-300)

    work = tmp_path / "si.work"
    # a first run on the cluster stops after 3 blocks: their files are in the checkpoint
    assert (
        compute_form_factor("Si", tiny, workdir=work, map_tasks=dask_executor, max_blocks=3, **run)
        is None
    )
    first = sorted(p.name for p in work.glob("block_*.npz"))
    assert len(first) == 3
    stamps = {p.name: p.stat().st_mtime_ns for p in work.glob("block_*.npz")}
    # the rerun resumes from them while a worker is killed after the first new block
    killed: list[int] = []
    table = compute_form_factor(
        "Si",
        tiny,
        workdir=work,
        map_tasks=faults.killing_after_first(dask_executor, client, killed),
        **run,
    )
    assert len(killed) == 1
    assert np.array_equal(table.f2, ref.f2)
    n_blocks = len(list(work.glob("block_*.npz")))
    assert n_blocks > 3
    assert all(work.joinpath(n).stat().st_mtime_ns == t for n, t in stamps.items())
    faults.wait_for_two_workers(client, killed[0])
