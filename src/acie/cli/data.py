"""``acie data ingest`` (store, embed and index an image cube) and ``acie index build`` (embed a catalogue).

Both (and ``acie index jobs``, which embeds finished jobs' images again,
:mod:`acie.serve.job_reindex`) embed with the shipped contrastive galaxy embedder
(:mod:`acie.embedding`) into the vector store the settings name (``VECTOR_BACKEND``,
``ACIE_DATABASE_URL``), under the model-registry row of the embedder's version (its
SHA-256, :func:`acie.store.embedder_index.open_embedder_index`), in batches, with a
progress bar on stderr. With ``--workers N`` or ``--scheduler`` (``DASK_SCHEDULER_ADDRESS``) the
batches are tasks of :mod:`acie.compute`; each worker loads the shipped embedder once
(:mod:`acie.embedding.worker`) and the vectors equal in-process ones.
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
    """(settings, engine, embedder, model_id, index): the embedder's index, registered."""
    from acie.config import get_settings
    from acie.store.database import create_engine_for, migrate
    from acie.store.embedder_index import open_embedder_index

    settings = get_settings()
    engine = create_engine_for(settings.database_url)
    migrate(settings.database_url, engine=engine)
    target = open_embedder_index(settings, engine=engine)
    return settings, engine, target.embedder, target.model_id, target.index


@contextmanager
def _embedding(
    embedder: Any, scheduler: str | None, workers: int
) -> Iterator[tuple[Callable, Any]]:
    """``(embed, map_tasks)`` for :func:`acie.store.datasets.embed_batches`.

    In this process (no scheduler, one worker): the loaded embedder, no tasks. Otherwise
    each batch is a task that loads the shipped embedder once per worker process.
    """
    from acie.compute.executor import SerialExecutor, resolve_executor
    from acie.embedding.worker import EmbedderRef, embed_task
    from acie.errors import InputValidationError, expected_got

    if workers < 1:
        raise InputValidationError(expected_got("--workers", "an integer >= 1", workers))
    ex = resolve_executor(scheduler, workers)
    try:
        if isinstance(ex, SerialExecutor):
            yield embedder.embed, None
        else:
            ref = EmbedderRef.of(embedder, shipped=True)
            yield functools.partial(embed_task, embedder=ref), ex
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
    settings, engine, embedder, model_id, index = _open()
    bar = _Bar("embedding")
    try:
        with _embedding(embedder, scheduler, workers) as (embed, map_tasks):
            info = ingest_dataset(
                engine=engine,
                cube_path=file,
                catalogue_path=catalogue,
                data_dir=settings.ACIE_DATA_DIR,
                image_shape=tuple(embedder.image_shape),
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
    owner: Annotated[
        str | None,
        typer.Option(
            help="Owner of the vectors (default: the stored dataset's, if the cube is one)."
        ),
    ] = None,
    shared: Annotated[
        bool | None,
        typer.Option(
            "--shared/--private",
            help="Visible to collaborators (default: as the stored dataset; else private).",
        ),
    ] = None,
    batch: BatchOpt = 256,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 1,
    as_json: JsonOpt = False,
) -> None:
    """Embed a catalogue's images into the configured vector store (no dataset is stored).

    The vectors carry the catalogue's columns as metadata; their ids derive from the
    cube's SHA-256 and the row, so building the same catalogue twice is refused by the
    store instead of duplicating it. A cube stored as a dataset (``ACIE_DATA_DIR/datasets/
    <sha256>/``, e.g. one embedded by another embedder before) keeps its dataset id,
    owner and sharing on the vectors, so its owner finds them with ``POST /v1/search``,
    and the dataset is recorded as embedded by this embedder (``searchable``).
    """
    import uuid

    from acie.errors import InputValidationError
    from acie.store.dataset_files import check_cube, read_catalogue, read_cube
    from acie.store.datasets import (
        DATASET_NAMESPACE,
        dataset_by_sha,
        embed_batches,
        set_dataset_model,
        sha256_file,
    )

    _, engine, embedder, model_id, index = _open()
    try:
        sha = sha256_file(images)
        stored = dataset_by_sha(engine, sha)
        extra: dict[str, Any] = {}
        if stored is not None:
            extra = {"dataset_id": stored.id, "owner": stored.owner or "", "shared": stored.shared}
        if stored is not None or owner is not None or shared is not None:
            extra["owner"] = owner if owner is not None else extra.get("owner", "")
            extra["shared"] = bool(shared) if shared is not None else extra.get("shared", False)
        cube = read_cube(images)
        check_cube(cube, tuple(embedder.image_shape))
        cat = read_catalogue(catalogue)
        if len(cat) != len(cube):
            raise InputValidationError(
                f"the catalogue must have one row per image ({len(cube)}); got {len(cat)} rows"
            )
        bar = _Bar("embedding")
        try:
            with _embedding(embedder, scheduler, workers) as (embed, map_tasks):
                vectors = embed_batches(embed, cube, batch=batch, progress=bar, map_tasks=map_tasks)
        finally:
            bar.close()
        base = uuid.uuid5(DATASET_NAMESPACE, "index:" + sha)
        ids = [uuid.uuid5(base, f"image-{i}") for i in range(len(cat))]
        index.add(ids, vectors, [{**cat.row(i), **extra} for i in range(len(cat))])
        if stored is not None and stored.model_id != model_id:
            set_dataset_model(engine, stored.id, model_id)
        n = len(index)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"added": len(ids), "n": n, "dim": int(vectors.shape[1])}))
        return
    typer.echo(f"added {len(ids)} vectors ({n} in the store)")


@index_app.command("jobs")
def jobs(as_json: JsonOpt = False) -> None:
    """Embed the images of every finished counterfactual job into the served index again.

    For jobs that finished before the galaxy embedder served search (their vectors were
    deep-SCM features) or while the index was unavailable: each image gets the job's id,
    owner and sharing (and its factual properties) as the worker gives them, so its owner
    finds it with ``POST /v1/search``; jobs already indexed are left as they are. A
    server with the in-process index searches the new vectors after a restart.
    """
    from acie.serve.embedding_index import ServedEmbedding
    from acie.serve.job_reindex import reindex_finished_jobs
    from acie.store.embedder_index import EmbedderIndex

    _, engine, embedder, model_id, index = _open()
    try:
        served = ServedEmbedding(EmbedderIndex(embedder=embedder, model_id=model_id, index=index))
        out = reindex_finished_jobs(engine, served)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(out))
        return
    typer.echo(
        f"{out['jobs']} finished jobs: added {out['added']} vectors; {out['already']} jobs "
        f"already indexed, {out['skipped']} skipped (images the embedder does not take)"
    )
