"""`acie compute local-cluster` and `acie dm formfactor --scheduler` end to end."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from acie.cli.main import app

runner = CliRunner()

TINY_ARGS = [
    "--kmesh", "2x1x1", "--basis", "gth-szv", "--pseudo", "gth-pade", "--xc", "lda,vwn",
    "--ke-cutoff", "25", "--n-q", "40", "--dq", "0.1", "--ne", "100", "--de", "0.5",
    "--pairs-per-block", "1", "--no-progress",
]  # fmt: skip


def test_local_cluster_prints_its_address_and_stops():
    r = runner.invoke(app, ["compute", "local-cluster", "--workers", "1", "--port", "0",
                            "--stop-after", "0.5"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("scheduler: tcp://127.0.0.1:")
    assert "DASK_SCHEDULER_ADDRESS=tcp://" in r.stdout
    bad = runner.invoke(app, ["compute", "local-cluster", "--workers", "0", "--stop-after", "0"])
    assert "--workers" in str(bad.exception)


@pytest.mark.slow
def test_formfactor_cli_on_the_cluster_matches_the_local_table(tmp_path, cluster):
    from acie.darkmatter.formfactor.io import read_acie

    local, remote = tmp_path / "local.h5", tmp_path / "remote.h5"
    r = runner.invoke(app, ["dm", "formfactor", "Si", *TINY_ARGS, "-o", str(local)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["dm", "formfactor", "Si", *TINY_ARGS, "-o", str(remote),
         "--scheduler", cluster.scheduler_address],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    a, b = read_acie(local), read_acie(remote)
    assert a.f2.max() > 0
    # in-process blocks use all PySCF threads, tasks one: equal to rounding
    np.testing.assert_allclose(b.f2, a.f2, rtol=1e-12, atol=1e-14 * a.f2.max())
    assert not (tmp_path / "remote.h5.work").exists()
