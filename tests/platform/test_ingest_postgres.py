"""Ingestion into pgvector on the real PostgreSQL: filtered search, and undo after a late failure."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from acie.errors import StoreError
from acie.store.datasets import dataset_by_sha, ingest_dataset
from acie.store.registry import ensure_model
from acie.store.schema import Dataset, Embedding
from acie.store.vectors import PgVectorIndex

pytestmark = pytest.mark.postgres

SHAPE = (2, 8, 8)


def _files(tmp_path, n=6, seed=0):
    cube = np.random.default_rng(seed).normal(size=(n, *SHAPE)).astype(np.float32)
    np.save(tmp_path / "cube.npy", cube)
    lines = ["id,redshift,ra,dec,survey,instrument"]
    lines += [f"p{i},{0.2 * i:.1f},{359.5 - i},{-89 + i},KiDS,OmegaCAM" for i in range(n)]
    (tmp_path / "cat.csv").write_text("\n".join(lines) + "\n")
    return cube, tmp_path / "cube.npy", tmp_path / "cat.csv"


def _embed(x):  # a fixed linear map: distinct images get distinct vectors
    w = np.random.default_rng(1).normal(size=(int(np.prod(SHAPE)), 8))
    return x.reshape(len(x), -1) @ w


def _counts(engine):
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(Dataset)).scalar_one(),
            conn.execute(select(func.count()).select_from(Embedding)).scalar_one(),
        )


def test_ingest_into_pgvector_and_search_a_redshift_window(postgres_engine, tmp_path):
    cube, cube_path, cat_path = _files(tmp_path)
    mid = ensure_model(postgres_engine, "enc", "a" * 64)
    index = PgVectorIndex(engine=postgres_engine, model_id=mid, dim=8)
    kw = dict(
        engine=postgres_engine,
        cube_path=cube_path,
        catalogue_path=cat_path,
        data_dir=tmp_path / "data",
        image_shape=SHAPE,
        embed=_embed,
        index=index,
        model_id=mid,
        max_bytes=1 << 20,
        owner="alice",
        batch=4,
    )
    info = ingest_dataset(**kw)
    assert info.created
    assert ingest_dataset(**kw).id == info.id  # idempotent
    assert _counts(postgres_engine) == (1, 6)
    hits = index.search(_embed(cube[2:3])[0], 10, filters={"redshift": {">": 0.3, "<": 0.7}})
    assert [h.metadata["catalogue_id"] for h in hits] == ["p2", "p3"]
    assert hits[0].distance == pytest.approx(0.0, abs=1e-3)
    assert hits[0].metadata["ra"] == pytest.approx(357.5)
    assert hits[0].metadata["dataset_id"] == info.id


def test_failure_after_the_vectors_are_written_removes_them(postgres_engine, tmp_path):
    """The datasets row is refused (its model does not exist): vectors and files go again."""
    _, cube_path, cat_path = _files(tmp_path, seed=3)
    mid = ensure_model(postgres_engine, "enc", "b" * 64)
    index = PgVectorIndex(engine=postgres_engine, model_id=mid, dim=8)
    with pytest.raises(StoreError):
        ingest_dataset(
            engine=postgres_engine,
            cube_path=cube_path,
            catalogue_path=cat_path,
            data_dir=tmp_path / "data",
            image_shape=SHAPE,
            embed=_embed,
            index=index,
            model_id=mid + 1000,
            max_bytes=1 << 20,
        )
    assert _counts(postgres_engine) == (0, 0)
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    from acie.store.datasets import sha256_file

    assert dataset_by_sha(postgres_engine, sha256_file(cube_path)) is None
