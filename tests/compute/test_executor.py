"""One executor, three backends: the same tasks give bit-identical results everywhere."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from scipy import stats

from acie.compute.executor import (
    DaskExecutor,
    ProcessExecutor,
    SerialExecutor,
    resolve_executor,
)
from acie.config import load_settings
from acie.darkmatter.halo_mc_scan import reach_scan, scan_tasks
from acie.darkmatter.halo_parameters import resolve_halo
from acie.errors import BackendUnavailableError, InputValidationError

H = resolve_halo("baxter2021")
DISTS = {
    "v0": stats.norm(H.v0.value, 10.0),
    "vesc": stats.norm(H.vesc.value, 30.0),
    "rho": stats.norm(H.rho.value, 0.05),
}
MASSES = np.geomspace(5.0, 1000.0, 6) * u.GeV


def _scan(map_tasks=None, n=120, **kw):
    opts = dict(seed=7, base=H, signal_limit=2.3, draws_per_task=25, masses_per_task=4)
    opts.update(kw)
    return reach_scan(
        "nuclear", MASSES, 1.0 * u.kg * u.yr, DISTS, n, map_tasks=map_tasks, **opts
    ).to_value(u.cm**2)


def test_every_backend_yields_in_item_order(dask_executor):
    # the task function must be importable on the workers: a builtin here
    items = [k / 7 for k in range(11)]
    want = [round(x, 2) for x in items]
    with ProcessExecutor(2) as proc:
        for ex in (SerialExecutor(), proc, dask_executor):
            assert ex.map(round, items, ndigits=2) == want


def test_halo_scan_is_bit_identical_on_every_backend_and_worker_count(dask_executor):
    ref = _scan()
    assert ref.shape == (120, 6)
    assert np.all(np.isfinite(ref))
    with ProcessExecutor(2) as two, ProcessExecutor(3) as three:
        assert np.array_equal(_scan(two), ref)
        assert np.array_equal(_scan(three), ref)
    assert np.array_equal(_scan(dask_executor), ref)


def test_scan_draws_come_from_the_task_seeds():
    ref = _scan()
    assert not np.array_equal(_scan(seed=8), ref)  # another root seed: other halos
    # task k's draws depend on (seed, k) only: the first chunk is the same in a longer scan
    assert np.array_equal(_scan(n=150)[:50], _scan(n=175)[:50])  # chunks of 25 in both
    # the band does not depend on the task size beyond Monte Carlo noise
    other = _scan(n=120, draws_per_task=60)
    med_ref, med_other = np.median(ref, axis=0), np.median(other, axis=0)
    np.testing.assert_allclose(med_other, med_ref, rtol=0.15)


def test_scan_tasks_cover_every_draw_and_mass_once():
    tasks = scan_tasks(101, 7, draws_per_task=50, masses_per_task=3)
    cover = np.zeros((101, 7), int)
    for _, first, n, lo, hi in tasks:
        assert n >= 2
        cover[first : first + n, lo:hi] += 1
    assert np.all(cover == 1)
    with pytest.raises(InputValidationError, match="draws_per_task"):
        scan_tasks(10, 3, draws_per_task=1)
    with pytest.raises(InputValidationError, match="masses_per_task"):
        scan_tasks(10, 3, masses_per_task=0)


def test_resolve_executor_prefers_scheduler_then_setting_then_local(cluster):
    addr = cluster.scheduler_address
    s = load_settings(DASK_SCHEDULER_ADDRESS=addr)
    with resolve_executor(None, 1, settings=s) as ex:
        assert isinstance(ex, DaskExecutor)
        assert ex.n_workers == 2
    plain = load_settings(DASK_SCHEDULER_ADDRESS=None)
    with resolve_executor(addr, 1, settings=plain) as ex:
        assert isinstance(ex, DaskExecutor)
    assert isinstance(resolve_executor(None, 1, settings=plain), SerialExecutor)
    with resolve_executor(None, 2, settings=plain) as ex:
        assert isinstance(ex, ProcessExecutor)
        assert ex.n_workers == 2
    with pytest.raises(InputValidationError, match="workers"):
        ProcessExecutor(0)


def test_unreachable_scheduler_is_a_typed_error():
    with pytest.raises(BackendUnavailableError, match="Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=1.0)


def test_galaxy_dataset_is_the_same_file_on_the_cluster(tmp_path, dask_executor):
    import h5py

    from acie.galaxy.dataset import write_dataset
    from acie.galaxy.simulator import GalaxySimulator

    sim = GalaxySimulator(image_size=16, seed=0)
    a = write_dataset(tmp_path / "a.h5", sim, 30, seed=4, chunk_size=8, progress=False)
    b = write_dataset(
        tmp_path / "b.h5", sim, 30, seed=4, chunk_size=8, progress=False, map_tasks=dask_executor
    )
    with h5py.File(a) as fa, h5py.File(b) as fb:
        assert np.array_equal(fa["images"][:], fb["images"][:])
        for g in ("properties", "noise", "nuisances"):
            for name in fa[g]:
                assert np.array_equal(fa[g][name][:], fb[g][name][:]), name


def test_cli_reach_on_the_cluster_prints_the_local_result(cluster):
    from typer.testing import CliRunner

    from acie.cli.main import app

    argv = ["dm", "reach", "--channel", "nuclear", "--n-masses", "4", "--halo-mc", "60", "--csv"]
    runner = CliRunner()
    local = runner.invoke(app, argv)
    remote = runner.invoke(app, [*argv, "--scheduler", cluster.scheduler_address])
    procs = runner.invoke(app, [*argv, "--workers", "2"])
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout == procs.stdout
    bad = runner.invoke(app, [*argv, "--workers", "0"])
    assert isinstance(bad.exception, InputValidationError)
    assert "--workers" in str(bad.exception)
