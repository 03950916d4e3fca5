"""The ingest job embeds with the galaxy embedder and records its version with the vectors."""

from __future__ import annotations

import shutil
import uuid

import numpy as np
import pytest
import torch
from sqlalchemy import func, select

from acie.embedding.embedder import EMBEDDER_NAME, Embedder
from acie.embedding.network import EncoderConfig, ImageEncoder
from acie.errors import InputValidationError
from acie.jobs.ingest import handle_ingest
from acie.jobs.job import Job
from acie.jobs.state import JobState
from acie.store import create_engine_for, migrate
from acie.store.embedder_index import open_embedder_index
from acie.store.schema import Embedding, Model


def _embedder(tmp_path) -> Embedder:
    torch.manual_seed(0)
    enc = ImageEncoder(EncoderConfig(bands=3, image_size=16, width=8, feature_dim=10))
    emb = Embedder(enc, np.full(3, 0.01, np.float32), np.zeros(10), np.eye(10), dim=5)
    emb.save(tmp_path / "tiny.pt")
    from acie.embedding.embedder import load_embedder

    return load_embedder(tmp_path / "tiny.pt")


def _job(tmp_path, cube: np.ndarray, n_rows: int) -> Job:
    staged = tmp_path / "uploads" / "u1"
    staged.mkdir(parents=True)
    np.save(staged / "cube.npy", cube)
    rows = [f"g{i},{0.1 * i},{10.0 + i},{-5.0 + i},DES,DECam" for i in range(n_rows)]
    (staged / "cat.csv").write_text("id,redshift,ra,dec,survey,instrument\n" + "\n".join(rows))
    from acie.store.datasets import sha256_file

    payload = {
        "kind": "ingest",
        "sha256": sha256_file(staged / "cube.npy"),
        "cube": str(staged / "cube.npy"),
        "catalogue": str(staged / "cat.csv"),
        "data_dir": str(tmp_path / "data"),
        "max_bytes": 1 << 30,
        "name": "tiny",
        "shared": False,
    }
    return Job(
        id=uuid.uuid4(),
        request_id="r",
        state=JobState.PROCESSING,
        payload=payload,
        user_sub="alice",
    )


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'acie.sqlite3'}"
    migrate(url)
    eng = create_engine_for(url)
    yield eng
    eng.dispose()


def test_ingest_job_embeds_with_the_embedder_and_records_its_version(tmp_path, engine) -> None:
    emb = _embedder(tmp_path)
    target = open_embedder_index(
        f"sqlite:///{tmp_path / 'acie.sqlite3'}", engine=engine, embedder=emb
    )
    cube = np.random.default_rng(0).normal(0, 0.02, size=(7, 3, 16, 16)).astype(np.float32)
    out = handle_ingest(_job(tmp_path, cube, 7), index=target.index, batch=3, target=target)
    assert out["dataset"]["n_images"] == 7
    assert out["dataset"]["model_id"] == target.model_id
    with engine.connect() as conn:
        model = conn.execute(select(Model).where(Model.id == target.model_id)).one()
        rows = conn.execute(
            select(Embedding.meta, Embedding.vector).where(Embedding.model_id == target.model_id)
        ).all()
    assert (model.name, model.version) == (EMBEDDER_NAME, emb.version)
    assert len(rows) == 7
    by_id = {meta["catalogue_id"]: np.asarray(vec) for meta, vec in rows}
    np.testing.assert_allclose(by_id["g3"], emb.embed(cube[3:4])[0], atol=1e-6)


def test_ingest_job_refuses_a_cube_of_the_wrong_shape_and_stores_nothing(tmp_path, engine) -> None:
    emb = _embedder(tmp_path)
    target = open_embedder_index(
        f"sqlite:///{tmp_path / 'acie.sqlite3'}", engine=engine, embedder=emb
    )
    cube = np.zeros((4, 2, 16, 16), np.float32)
    with pytest.raises(InputValidationError, match="3-band"):
        handle_ingest(_job(tmp_path, cube, 4), index=target.index, target=target)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Embedding)).scalar_one() == 0
    assert not (tmp_path / "uploads" / "u1").exists()
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
