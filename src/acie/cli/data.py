"""``acie data ingest`` (store, embed and index an image cube) and ``acie index build`` (embed a catalogue).

Both embed with the shipped deep SCM engine's encoder features (what ``acie serve``
indexes and ``POST /v1/search`` searches) into the vector store the settings name
(``VECTOR_BACKEND``, ``ACIE_DATABASE_URL``), in batches, with a progress bar on stderr.
With ``--workers N`` or ``--scheduler`` (``DASK_SCHEDULER_ADDRESS``) the batches are
tasks of :mod:`acie.compute`; each worker loads the shipped engine once
(:mod:`acie.deepscm.worker_engine`) and the vectors are bit-identical to in-process ones.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from acie.cli.compute import SchedulerOpt, WorkersOpt

__all__ = ["data_app", "index_app"]

data_app = typer.Typer(help="Ingest image cubes with their catalogues.", no_args_is_help=True)
index_app = typer.Typer(help="Fill the vector store from the command line.", no_args_is_help=True)

BatchOpt = Annotated[int, typer.Option(min=1, help="Images embedded per batch.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _open() -> tuple[Any, Any, Any, int, Any]:
    """(settings, engine, model, model_id, index) as ``acie serve`` opens them."""
    import numpy as np

    from acie.config import get_settings
    from acie.deepscm.engine import load_default_model
    from acie.store.database import create_engine_for, migrate
    from acie.store.registry import ensure_model
    from acie.store.vectors import open_vector_index

    settings = get_settings()
    engine = create_engine_for(settings.database_url)
    migrate(settings.database_url, engine=engine)
    from acie.deepscm.watermark import Watermark

    model = load_default_model(watermark=Watermark(key=settings.watermark_key()))
    model_id = ensure_model(
        engine, "galaxy-deepscm", model.model_version, {"image_shape": list(model.image_shape)}
    )
    dim = model.encoder_features(np.zeros((1, *model.image_shape), np.float32)).shape[1]
    index = open_vector_index(settings, model_id=model_id, dim=int(dim), engine=engine)
    return settings, engine, model, model_id, index


@contextmanager
def _embedding(model: Any, scheduler: str | None, workers: int) -> Iterator[tuple[Callable, Any]]:
    """``(embed, map_tasks)`` for :func:`acie.store.datasets.embed_batches`.

    In this process (no scheduler, one worker): the loaded engine, no tasks. Otherwise
    each batch is a task that loads the shipped engine once per worker process.
    """
    from acie.compute.executor import SerialExecutor, resolve_executor
    from acie.deepscm.worker_engine import EngineRef, encoder_features_task
    from acie.errors import InputValidationError, expected_got

    if workers < 1:
        raise InputValidationError(expected_got("--workers", "an integer >= 1", workers))
    ex = resolve_executor(scheduler, workers)
    try:
        if isinstance(ex, SerialExecutor):
            yield model.encoder_features, None
        else:
            ref = EngineRef.of(model, shipped=True)
            yield functools.partial(encoder_features_task, engine=ref), ex
    finally:
        ex.close()


class _Bar:
    """A typer progress bar fed with ``(done, total)`` calls."""

    def __init__(self, label: str) -> None:
        self.label, self.done = label, 0
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = typer.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@data_app.command("ingest")
def ingest(
    file: Annotated[Path, typer.Argument(help="Image cube (N, bands, H, W): .fits, .h5, .npy.")],
    catalogue: Annotated[
        Path, typer.Option(help="Catalogue (.csv or FITS table): id, redshift, ra, dec, ...")
    ],
    name: Annotated[str | None, typer.Option(help="Dataset name (default: file name).")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner (a user's subject).")] = None,
    shared: Annotated[bool, typer.Option(help="Visible to collaborators.")] = False,
    batch: BatchOpt = 256,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 1,
    as_json: JsonOpt = False,
) -> None:
    """Hash, check, store, embed and index an image cube with its catalogue."""
    from acie.errors import InputValidationError
    from acie.store.datasets import ingest_dataset

    for path in (file, catalogue):
        if not path.is_file():
            raise InputValidationError(f"{path} is not a file")
    settings, engine, model, model_id, index = _open()
    bar = _Bar("embedding")
    try:
        with _embedding(model, scheduler, workers) as (embed, map_tasks):
            info = ingest_dataset(
                engine=engine,
                cube_path=file,
                catalogue_path=catalogue,
                data_dir=settings.ACIE_DATA_DIR,
                image_shape=tuple(model.image_shape),
                embed=embed,
                index=index,
                model_id=model_id,
                max_bytes=settings.MAX_DATASET_BYTES,
                name=name,
                owner=owner,
                shared=shared,
                batch=batch,
                progress=bar,
                map_tasks=map_tasks,
            )
    finally:
        bar.close()
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(info.as_dict()))
        return
    verb = "ingested" if info.created else "already ingested"
    typer.echo(f"{verb}: dataset {info.id} ({info.n_images} images, sha256 {info.sha256})")


@index_app.command("build")
def build(
    catalogue: Annotated[Path, typer.Argument(help="Catalogue (.csv or FITS table).")],
    images: Annotated[Path, typer.Option(help="Its image cube (.fits, .h5, .npy).")],
    batch: BatchOpt = 256,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 1,
    as_json: JsonOpt = False,
) -> None:
    """Embed a catalogue's images into the configured vector store (no dataset is stored).

    The vectors carry the catalogue's columns as metadata; their ids derive from the
    cube's SHA-256 and the row, so building the same catalogue twice is refused by the
    store instead of duplicating it.
    """
    import uuid

    from acie.errors import InputValidationError
    from acie.store.dataset_files import check_cube, read_catalogue, read_cube
    from acie.store.datasets import DATASET_NAMESPACE, embed_batches, sha256_file

    _, engine, model, _, index = _open()
    try:
        cube = read_cube(images)
        check_cube(cube, tuple(model.image_shape))
        cat = read_catalogue(catalogue)
        if len(cat) != len(cube):
            raise InputValidationError(
                f"the catalogue must have one row per image ({len(cube)}); got {len(cat)} rows"
            )
        bar = _Bar("embedding")
        try:
            with _embedding(model, scheduler, workers) as (embed, map_tasks):
                vectors = embed_batches(embed, cube, batch=batch, progress=bar, map_tasks=map_tasks)
        finally:
            bar.close()
        base = uuid.uuid5(DATASET_NAMESPACE, "index:" + sha256_file(images))
        ids = [uuid.uuid5(base, f"image-{i}") for i in range(len(cat))]
        index.add(ids, vectors, [cat.row(i) for i in range(len(cat))])
        n = len(index)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"added": len(ids), "n": n, "dim": int(vectors.shape[1])}))
        return
    typer.echo(f"added {len(ids)} vectors ({n} in the store)")
