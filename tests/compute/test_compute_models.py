"""Catalogue embedding and deep SCM evaluation as tasks: the same numbers on every backend.

The engine is never shipped: each worker loads it once from its checkpoint (the shipped
model here) and runs torch with one thread, as the in-process engine does, so vectors
and evaluation reports are bit-identical (``numpy.array_equal``), not merely close.

The Dask test starts its own 2-worker ``LocalCluster`` rather than the shared ``cluster``
fixture: a worker that imports torch and loads the model holds ~340 MB, above the
fixture's 400 MiB limit's pause threshold (80 %).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from acie.compute.executor import DaskExecutor, ProcessExecutor, SerialExecutor
from acie.deepscm.engine import load_default_model
from acie.deepscm.evaluation import evaluate
from acie.deepscm.worker_engine import EngineRef, encoder_features_task, engine_for
from acie.errors import ConflictError
from acie.galaxy.simulator import GalaxySimulator
from acie.store.datasets import embed_batches

IVS = {"log_stellar_mass": 0.3, "age": 3.0}


@pytest.fixture(scope="module")
def engine():
    return load_default_model()  # one torch thread, like the workers


@pytest.fixture(scope="module")
def sim():
    return GalaxySimulator(image_size=64, bands=("g", "r", "i"))


@pytest.fixture(scope="module")
def cube(sim):
    return np.asarray(sim.sample(10, seed=3).images, np.float32)


def _embed(engine, cube, map_tasks=None):
    if map_tasks is None:
        return embed_batches(engine.encoder_features, cube, batch=4)
    task = functools.partial(encoder_features_task, engine=EngineRef.of(engine, shipped=True))
    return embed_batches(task, cube, batch=4, map_tasks=map_tasks)


def _evaluate(engine, sim, map_tasks=None):
    return evaluate(
        engine,
        sim,
        n=6,
        seed=21,
        interventions=IVS,
        batch_size=4,
        n_examples=2,
        noise_levels=(0.0,),
        map_tasks=map_tasks,
    )


def _same_report(a, b) -> None:
    # json text compares every number exactly (repr of floats), NaN included
    assert json.dumps(a.to_dict(), default=float) == json.dumps(b.to_dict(), default=float)
    assert a.examples.keys() == b.examples.keys() == IVS.keys()
    for node in IVS:
        for k, v in a.examples[node].items():
            assert np.array_equal(v, b.examples[node][k]), (node, k)


@pytest.fixture(scope="module")
def reference(engine, sim, cube):
    vectors = _embed(engine, cube)
    assert vectors.shape[0] == 10
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    return vectors, _evaluate(engine, sim)


def test_local_processes_give_the_in_process_vectors_and_report(engine, sim, cube, reference):
    vectors, report = reference
    with ProcessExecutor(2) as two:
        assert np.array_equal(_embed(engine, cube, two), vectors)
        _same_report(_evaluate(engine, sim, two), report)
    # the in-process executor goes through the task path (cached engine) too
    assert np.array_equal(_embed(engine, cube, SerialExecutor()), vectors)
    assert [m.node for m in report.interventions] == list(IVS)
    assert report.interventions[0].n == 6


def test_a_worker_with_another_model_version_refuses(engine):
    ref = EngineRef(checkpoint=None, version="0" * 64)
    with pytest.raises(ConflictError, match="model version"):
        engine_for(ref)
    assert engine_for(EngineRef.of(engine, shipped=True)).model_version == engine.model_version


def test_index_build_with_workers_stores_the_in_process_vectors(tmp_path, monkeypatch, cube):
    from astropy.io import fits
    from sqlalchemy import select
    from typer.testing import CliRunner

    from acie.cli.main import app
    from acie.config import get_settings
    from acie.store import create_engine_for
    from acie.store.schema import Embedding

    images = tmp_path / "cube.fits"
    fits.PrimaryHDU(cube[:5]).writeto(images)
    cat = tmp_path / "cat.csv"
    rows = [f"g{i},{0.1 * i},{10.0 + i},{-5.0 + i},DES,DECam" for i in range(5)]
    cat.write_text("id,redshift,ra,dec,survey,instrument\n" + "\n".join(rows) + "\n")
    stored = {}
    monkeypatch.setenv("VECTOR_BACKEND", "auto")
    monkeypatch.delenv("ACIE_DATABASE_URL", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    for workers in ("1", "2"):
        data = tmp_path / f"data{workers}"
        monkeypatch.setenv("ACIE_DATA_DIR", str(data))
        get_settings.cache_clear()
        args = ["index", "build", str(cat), "--images", str(images), "--batch", "2"]
        res = CliRunner().invoke(app, [*args, "--workers", workers, "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.output.splitlines()[-1])["added"] == 5
        db = create_engine_for(f"sqlite:///{data / 'acie.sqlite3'}")
        with db.connect() as conn:
            stored[workers] = {
                r.id: np.asarray(r.vector) for r in conn.execute(select(Embedding)).all()
            }
        db.dispose()
    # the ingest pipeline's embedding step takes the same options
    res = CliRunner().invoke(
        app, ["data", "ingest", str(images), "--catalogue", str(cat), "--workers", "2", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.splitlines()[-1])["n_images"] == 5
    get_settings.cache_clear()
    assert stored["1"].keys() == stored["2"].keys()
    assert len(stored["1"]) == 5
    for key, v in stored["1"].items():
        assert np.array_equal(v, stored["2"][key])
    res = CliRunner().invoke(
        app, ["index", "build", str(cat), "--images", str(images), "--workers", "0"]
    )
    assert res.exit_code != 0


def test_model_evaluate_with_workers_writes_the_same_metrics(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from acie.cli.main import app

    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    metrics = []
    for workers in ("1", "2"):
        report = tmp_path / f"report{workers}"
        args = [
            "model",
            "evaluate",
            "--n",
            "4",
            "--seed",
            "3",
            "--no-speed",
            "--report",
            str(report),
        ]
        res = CliRunner().invoke(app, [*args, "--workers", workers])
        assert res.exit_code == 0, res.output
        metrics.append((report / "report.json").read_text())
    assert metrics[0] == metrics[1]
    assert len(json.loads(metrics[0])["models"][0]["interventions"]) == 5


@pytest.mark.slow
def test_dask_cluster_gives_the_in_process_vectors_and_report(engine, sim, cube, reference):
    from distributed import Client

    from acie.compute.cluster import start_local_cluster

    vectors, report = reference
    with (
        start_local_cluster(2, memory_limit="1500MiB") as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        ex = DaskExecutor(client=client)
        assert np.array_equal(_embed(engine, cube, ex), vectors)
        _same_report(_evaluate(engine, sim, ex), report)


def test_engine_ref_of_a_checkpoint_names_its_resolved_path(engine):
    ref = EngineRef.of(engine)
    assert ref.checkpoint is not None
    assert Path(ref.checkpoint).is_absolute()
    assert ref.version == engine.model_version
    assert ref.device == "cpu"
