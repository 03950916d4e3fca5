"""``acie data ingest`` and ``acie index build``: formats, checks, nothing half-written, idempotency.

The happy path runs the command as typed (a subprocess); the bad-input cases run the
same typer app in-process (the model loads once) and check that no stored file, no
vector and no dataset row is left behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from acie.errors import AcieError, UnitsError
from acie.store import create_engine_for
from acie.store.schema import Dataset, Embedding

SHAPE = (3, 64, 64)  # the shipped deep SCM engine's image shape


def _cube(n=5, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)


def _csv(path: Path, n=5, **override) -> Path:
    rows = ["id,redshift,ra,dec,survey,instrument"]
    for i in range(n):
        r = {"id": f"g{i}", "z": 0.1 * i, "ra": 10.0 + i, "dec": -5.0 + i}
        r.update(
            {k: v for k, v in override.items() if k != "row"} if i == override.get("row") else {}
        )
        rows.append(f"{r['id']},{r['z']},{r['ra']},{r['dec']},DES,DECam")
    path.write_text("\n".join(rows) + "\n")
    return path


def _fits(path: Path, cube: np.ndarray) -> Path:
    from astropy.io import fits

    fits.PrimaryHDU(cube).writeto(path)
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    from acie.config import get_settings

    data = tmp_path / "data"
    monkeypatch.setenv("ACIE_DATA_DIR", str(data))
    monkeypatch.delenv("ACIE_DATABASE_URL", raising=False)
    monkeypatch.setenv("VECTOR_BACKEND", "auto")
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def _counts(data: Path) -> tuple[int, int, list[Path]]:
    """(dataset rows, vectors, stored files) under an ACIE_DATA_DIR."""
    engine = create_engine_for(f"sqlite:///{data / 'acie.sqlite3'}")
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(Dataset)).scalar_one()
        vecs = conn.execute(select(func.count()).select_from(Embedding)).scalar_one()
    engine.dispose()
    stored = (
        [p for p in (data / "datasets").rglob("*") if p.is_file()]
        if (data / "datasets").exists()
        else []
    )
    return int(rows), int(vecs), stored


def _invoke(*args):
    from typer.testing import CliRunner

    from acie.cli.main import app

    return CliRunner().invoke(app, list(map(str, args)))


def test_ingest_as_typed_then_idempotent(env, tmp_path):
    cube = _fits(tmp_path / "cube.fits", _cube())
    cat = _csv(tmp_path / "cat.csv")
    cmd = [
        sys.executable,
        "-m",
        "acie",
        "data",
        "ingest",
        str(cube),
        "--catalogue",
        str(cat),
        "--json",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["created"]
    assert info["n_images"] == 5
    assert info["bands"] == 3
    import hashlib

    assert info["sha256"] == hashlib.sha256(cube.read_bytes()).hexdigest()
    assert (env / info["path"] / "cube.fits").read_bytes() == cube.read_bytes()
    assert _counts(env)[:2] == (1, 5)
    again = _invoke("data", "ingest", cube, "--catalogue", cat, "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output.splitlines()[-1])["id"] == info["id"]
    assert _counts(env)[:2] == (1, 5)  # nothing added twice
    # the vectors carry the catalogue's metadata, searchable by a redshift window
    from acie.store.vectors import open_vector_index

    engine = create_engine_for(f"sqlite:///{env / 'acie.sqlite3'}")
    index = open_vector_index(
        f"sqlite:///{env / 'acie.sqlite3'}", model_id=info["model_id"], engine=engine
    )
    hits = index.search(
        np.zeros(index.dim, np.float32), 10, filters={"redshift": {">=": 0.15, "<=": 0.35}}
    )
    assert sorted(h.metadata["catalogue_id"] for h in hits) == ["g2", "g3"]
    assert all(
        h.metadata["dataset_id"] == info["id"] and h.metadata["survey"] == "DES" for h in hits
    )
    engine.dispose()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("bands", "3-band images; got 2 bands"),
        ("nan", "NaN/inf pixels"),
        ("length", r"one row per image \(5\); got 4 rows"),
        ("ra", "ra must be in \\[0, 360\\) degrees; row 2 has 400"),
        ("redshift", "redshift must be ≥ 0; row 1 has -0.5"),
        ("oversize", "MAX_DATASET_BYTES = 2048 bytes"),
        ("columns", "lacks instrument"),
    ],
)
def test_bad_input_leaves_nothing(env, tmp_path, monkeypatch, case, message):
    cube = _cube(shape=(2, 64, 64)) if case == "bands" else _cube()
    if case == "nan":
        cube[3, 1, 10, 10] = np.nan
    path = _fits(tmp_path / "cube.fits", cube)
    cat = _csv(tmp_path / "cat.csv", n=4 if case == "length" else 5)
    if case == "ra":
        cat = _csv(tmp_path / "cat.csv", row=2, ra=400.0)
    if case == "redshift":
        cat = _csv(tmp_path / "cat.csv", row=1, z=-0.5)
    if case == "columns":
        cat.write_text(cat.read_text().replace(",instrument", ""))
    if case == "oversize":
        monkeypatch.setenv("MAX_DATASET_BYTES", "2048")
    res = _invoke("data", "ingest", path, "--catalogue", cat)
    # an AcieError: `acie` prints it as one line and exits with status 2
    assert isinstance(res.exception, AcieError), res.output
    assert re.search(message, str(res.exception)), res.exception
    assert _counts(env) == (0, 0, [])


def test_embedding_failure_midway_leaves_nothing(env, tmp_path, monkeypatch):
    """A crash after the files are stored (while embedding) removes them again."""
    from acie.store import migrate
    from acie.store.datasets import ingest_dataset

    url = f"sqlite:///{env / 'acie.sqlite3'}"
    env.mkdir(parents=True, exist_ok=True)
    migrate(url)
    engine = create_engine_for(url)
    calls = []

    def embed(x):
        calls.append(len(x))
        if len(calls) == 2:
            raise RuntimeError("encoder crashed")
        return np.ones((len(x), 4), np.float32)

    from acie.store.registry import ensure_model
    from acie.store.vectors import MemoryVectorIndex

    mid = ensure_model(engine, "enc", "f" * 64)
    index = MemoryVectorIndex(dim=4, engine=engine, model_id=mid)
    with pytest.raises(RuntimeError, match="encoder crashed"):
        ingest_dataset(
            engine=engine,
            cube_path=_fits(tmp_path / "c.fits", _cube()),
            catalogue_path=_csv(tmp_path / "c.csv"),
            data_dir=env,
            image_shape=SHAPE,
            embed=embed,
            index=index,
            model_id=mid,
            max_bytes=1 << 30,
            batch=2,
        )
    engine.dispose()
    assert _counts(env) == (0, 0, [])


def test_formats_hdf5_npy_and_fits_table(env, tmp_path):
    import h5py
    from astropy.table import Table

    cube = _cube(n=3, seed=1)
    with h5py.File(tmp_path / "cube.h5", "w") as f:
        f["images"] = cube
    np.save(tmp_path / "cube.npy", _cube(n=3, seed=2))
    t = Table(
        {
            "id": ["a", "b", "c"],
            "redshift": [0.1, 0.2, 0.3],
            "ra": [1.0, 2.0, 3.0],
            "dec": [0.0, 1.0, 2.0],
            "survey": ["HSC"] * 3,
            "instrument": ["HSC"] * 3,
        }
    )
    t["ra"].unit = "arcmin"  # converted to degrees
    t["dec"].unit = "deg"
    t.write(tmp_path / "cat.fits")
    for cube_file in ("cube.h5", "cube.npy"):
        res = _invoke(
            "data", "ingest", tmp_path / cube_file, "--catalogue", tmp_path / "cat.fits", "--json"
        )
        assert res.exit_code == 0, res.output
    assert _counts(env)[:2] == (2, 6)
    t["ra"].unit = "kpc"
    t.write(tmp_path / "bad.fits")
    np.save(tmp_path / "new.npy", _cube(n=3, seed=4))
    res = _invoke("data", "ingest", tmp_path / "new.npy", "--catalogue", tmp_path / "bad.fits")
    assert isinstance(res.exception, UnitsError)
    assert "must be an angle" in str(res.exception)
    assert _counts(env)[:2] == (2, 6)


def test_index_build_embeds_a_catalogue(env, tmp_path):
    cube = _fits(tmp_path / "cube.fits", _cube(n=4, seed=3))
    cat = _csv(tmp_path / "cat.csv", n=4)
    res = _invoke("index", "build", cat, "--images", cube, "--batch", "3", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.splitlines()[-1])
    assert out["added"] == 4
    assert out["n"] == 4
    rows, vecs, stored = _counts(env)
    assert (rows, vecs, stored) == (0, 4, [])  # vectors only: no dataset is stored


def test_index_build_keeps_the_owner_and_sharing_of_stored_datasets(env, tmp_path):
    """Two researchers' datasets, embedded by an old embedder, rebuilt with ``acie index build``
    from their stored files: each researcher finds their own images, a collaborator only the
    shared ones, and the datasets are marked as embedded by the served embedder."""
    from acie.serve import job_service
    from acie.serve.auth import Principal, Role
    from acie.store.database import migrate
    from acie.store.datasets import dataset_by_id, ingest_dataset
    from acie.store.embedder_index import open_embedder_index
    from acie.store.registry import ensure_model
    from acie.store.vectors import open_vector_index

    env.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{env / 'acie.sqlite3'}"
    engine = create_engine_for(url)
    migrate(url, engine=engine)
    old_id = ensure_model(engine, "galaxy-deepscm", "0" * 64, {})
    old = open_vector_index(url, model_id=old_id, dim=4, engine=engine)
    infos = {}
    for who, seed, shared in (("alice", 1, False), ("bob", 2, True)):
        infos[who] = ingest_dataset(
            engine=engine,
            cube_path=_fits(tmp_path / f"{who}.fits", _cube(n=3, seed=seed)),
            catalogue_path=_csv(tmp_path / f"{who}.csv", n=3),
            data_dir=env,
            image_shape=SHAPE,
            embed=lambda x: np.asarray(x).reshape(len(x), -1)[:, :4],
            index=old,
            model_id=old_id,
            max_bytes=10**8,
            owner=who,
            shared=shared,
        )
    for info in infos.values():
        stored = env / info.path
        res = _invoke("index", "build", stored / "catalogue.csv", "--images", stored / "cube.fits")
        assert res.exit_code == 0, res.output
    plain = _invoke(
        "index",
        "build",
        _csv(tmp_path / "c.csv", n=2),
        "--images",
        _fits(tmp_path / "c.fits", _cube(n=2, seed=9)),
        "--owner",
        "carol",
    )
    assert plain.exit_code == 0, plain.output
    target = open_embedder_index(url, engine=engine)

    def seen(sub: str, role: Role) -> list[tuple[str, str | None, bool]]:
        who = Principal(subject=sub, role=role, scopes=frozenset())
        q = np.zeros(target.index.dim, np.float32)
        hits = job_service.search(target.index, who, q, k=20, where=None)
        return sorted(
            (h["metadata"]["owner"], h["metadata"].get("dataset_id"), h["metadata"]["shared"])
            for h in hits
        )

    assert seen("alice", Role.researcher) == [("alice", infos["alice"].id, False)] * 3
    assert seen("bob", Role.researcher) == [("bob", infos["bob"].id, True)] * 3
    assert seen("carol", Role.researcher) == [("carol", None, False)] * 2
    assert seen("dave", Role.collaborator) == [("bob", infos["bob"].id, True)] * 3
    for info in infos.values():  # GET /v1/datasets/{id} now says searchable
        assert dataset_by_id(engine, info.id).model_id == target.model_id
    engine.dispose()
