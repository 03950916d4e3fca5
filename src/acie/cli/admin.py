"""`acie admin`: database migrations, backups, audit verification, vector indexes, workers.

Every command takes ``--url`` (default: ``ACIE_DATABASE_URL``, else the embedded
SQLite file in ``ACIE_DATA_DIR``). ``--json`` prints one JSON object; durations in it
are seconds (``*_s``) unless the key says otherwise.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from acie.embedding import EMBEDDER_NAME

app = typer.Typer(
    help="Administration: database migrations, backups, audit log, vector indexes, workers.",
    no_args_is_help=True,
)

UrlOpt = Annotated[str | None, typer.Option("--url", help="Database URL (default: settings).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _url(url: str | None) -> str:
    if url:
        return url
    from acie.config import get_settings

    return get_settings().database_url


def _emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, default=str, sort_keys=True))
    else:
        typer.echo(text)


@app.command()
def migrate(url: UrlOpt = None, revision: str = "head", as_json: JsonOpt = False) -> None:
    """Upgrade the database schema to the newest revision (Alembic)."""
    from acie.store.database import migrate as run_migrate

    t0 = time.perf_counter()
    rev = run_migrate(_url(url), revision)
    _emit(
        {"revision": rev, "seconds": time.perf_counter() - t0},
        as_json,
        f"database at revision {rev}",
    )


@app.command()
def backup(
    dest: Annotated[Path, typer.Argument(help="Backup file to write.")],
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Back up the database (SQLite online backup, or pg_dump custom format)."""
    from acie.store.backup import backup as run_backup

    info = run_backup(_url(url), dest)
    _emit(
        info.as_dict(),
        as_json,
        f"{info.backend} backup written to {info.path} ({info.bytes} bytes, "
        f"{info.seconds:.2f} s); audit head row {info.audit_head['seq']}",
    )


AnchorKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--anchor-key",
        help="Ed25519 key (public or private PEM) the anchor must be signed with "
        "(default: AUDIT_ANCHOR_PUBLIC_KEY_FILE or AUDIT_ANCHOR_KEY_FILE; none: unsigned ok).",
    ),
]


def _public_key(path: Path | None) -> Any:
    from acie.config import get_settings
    from acie.store.anchors import anchor_public_key

    return anchor_public_key(get_settings(), path)


@app.command()
def restore(
    src: Annotated[
        Path,
        typer.Argument(
            help="Backup file written by `acie admin backup`, or with --to-time the base "
            "backup folder written by `acie admin base-backup`."
        ),
    ],
    url: UrlOpt = None,
    anchor: Annotated[Path | None, typer.Option(help="Audit head anchor file to check.")] = None,
    anchor_key: AnchorKeyOpt = None,
    to_time: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL point-in-time recovery to this ISO 8601 time with a timezone "
            "(needs --wal-archive and --data-dir; the server must be stopped)."
        ),
    ] = None,
    wal_archive: Annotated[
        Path | None, typer.Option(help="WAL archive folder (archive_command's target).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="The stopped cluster's data directory.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore from a backup (or to a point in time) once a copy has verified (chain, anchor)."""
    from acie.store.backup import restore as run_restore

    key = _public_key(anchor_key) if anchor is not None else None
    if to_time is not None:
        from acie.cli.admin_pitr import restore_to_time

        restore_to_time(src, to_time, wal_archive, data_dir, anchor, key, as_json)
        return
    info = run_restore(_url(url), src, anchor=anchor, public_key=key)
    _emit(
        info.as_dict(),
        as_json,
        f"{info.backend} database restored from {info.path} ({info.seconds:.2f} s); "
        f"audit log intact, {info.audit['rows']} rows",
    )


def _register_pitr() -> None:
    from acie.cli import admin_pitr

    app.command("base-backup")(admin_pitr.base_backup)
    app.command("wal-archive-config")(admin_pitr.wal_archive_config)


_register_pitr()


def _register_users() -> None:
    from acie.cli import admin_users

    app.add_typer(admin_users.app, name="user")


_register_users()


@app.command("anchor-keygen")
def anchor_keygen(
    path: Annotated[Path, typer.Argument(help="Private key file to create (mode 0600).")],
    as_json: JsonOpt = False,
) -> None:
    """Make an Ed25519 key pair for signing audit anchors (PATH and PATH.pub)."""
    from acie.store.anchors import generate_key, key_id, load_public_key

    priv, pub = generate_key(path)
    kid = key_id(load_public_key(pub))
    _emit(
        {"private_key": str(priv), "public_key": str(pub), "key_id": kid},
        as_json,
        f"anchor signing key {kid}: {priv} (keep secret; AUDIT_ANCHOR_KEY_FILE), "
        f"{pub} (for verifiers; AUDIT_ANCHOR_PUBLIC_KEY_FILE)",
    )


@app.command("audit-verify")
def audit_verify(
    url: UrlOpt = None,
    anchor: Annotated[
        Path | None,
        typer.Option(help="Head anchor file exported earlier; detects deleted newest rows."),
    ] = None,
    anchor_key: AnchorKeyOpt = None,
    export_head: Annotated[
        Path | None,
        typer.Option(
            help="After a successful check, write the current head to this file "
            "(signed with AUDIT_ANCHOR_KEY_FILE when set)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify the audit log's hash chain and the anchor's signature; exit status 1 if bad."""
    from acie.config import get_settings
    from acie.errors import AuditIntegrityError
    from acie.store.anchors import export_anchor, load_private_key, read_anchor
    from acie.store.audit import AuditHead, AuditLog, VerifyResult
    from acie.store.database import create_engine_for

    head = None
    failure: VerifyResult | None = None
    if anchor is not None:
        try:
            head = read_anchor(anchor, public_key=_public_key(anchor_key))
        except AuditIntegrityError as err:
            failure = VerifyResult(False, 0, AuditHead(0, "0" * 64), err.row, str(err))
    engine = create_engine_for(_url(url))
    try:
        log = AuditLog(engine)
        result = failure or log.verify(anchor=head, raise_on_error=False)
        if result.ok and export_head is not None:
            settings = get_settings()
            key = settings.AUDIT_ANCHOR_KEY_FILE
            export_anchor(
                log, export_head, private_key=load_private_key(key) if key is not None else None
            )
    finally:
        engine.dispose()
    if result.ok:
        _emit(
            result.as_dict(),
            as_json,
            f"audit log intact: {result.rows} rows, head {result.head.row_hash[:16]}…",
        )
        return
    _emit(
        result.as_dict(),
        as_json,
        f"audit log verification FAILED at row {result.bad_row}: {result.message}",
    )
    raise typer.Exit(1)


def _index(
    url: str,
    model: str,
    version: str | None,
    kind: str,
    metric: str,
    lists: int | None,
    probes: int | None,
) -> Any:
    from acie.config import get_settings
    from acie.store.database import create_engine_for
    from acie.store.registry import find_model
    from acie.store.vectors import open_vector_index

    engine = create_engine_for(url)
    model_id = find_model(engine, model, version)
    settings = get_settings().model_copy(update={"ACIE_DATABASE_URL": url})
    options: dict[str, Any] = {"metric": metric}
    if settings.VECTOR_BACKEND != "memory" and engine.dialect.name == "postgresql":
        options.update(kind=kind, lists=lists, probes=probes)
    return open_vector_index(settings, model_id=model_id, engine=engine, **options)


ModelOpt = Annotated[
    str, typer.Option(help="Model name (see the models table); default: the galaxy embedder.")
]
VersionOpt = Annotated[str | None, typer.Option(help="Model version (SHA-256); default newest.")]
KindOpt = Annotated[str, typer.Option(help="pgvector index type: ivfflat or hnsw.")]
MetricOpt = Annotated[str, typer.Option(help="Distance: l2 or cosine.")]
ListsOpt = Annotated[int | None, typer.Option(help="IVFFlat lists (default rows/1000).")]


def _index_command(
    rebuild: bool,
    url: str | None,
    model: str,
    version: str | None,
    kind: str,
    metric: str,
    lists: int | None,
    as_json: bool,
) -> None:
    t0 = time.perf_counter()
    index = _index(_url(url), model, version, kind, metric, lists, None)
    info = index.rebuild() if rebuild else index.build()
    info["build_seconds"] = time.perf_counter() - t0
    note = ""
    if info["backend"] == "memory":
        note = " (in-process index: rebuilt by each process that opens it)"
    _emit(
        info,
        as_json,
        f"{info['backend']} index for {model}: {info['index']} over "
        f"{info['n']} vectors in {info['build_seconds']:.2f} s{note}",
    )


@app.command("index-build")
def index_build(
    model: ModelOpt = EMBEDDER_NAME,
    url: UrlOpt = None,
    version: VersionOpt = None,
    kind: KindOpt = "ivfflat",
    metric: MetricOpt = "l2",
    lists: ListsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the vector index of a model's embeddings if it does not exist."""
    _index_command(False, url, model, version, kind, metric, lists, as_json)


@app.command("index-rebuild")
def index_rebuild(
    model: ModelOpt = EMBEDDER_NAME,
    url: UrlOpt = None,
    version: VersionOpt = None,
    kind: KindOpt = "ivfflat",
    metric: MetricOpt = "l2",
    lists: ListsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Drop and rebuild the vector index (IVF centroids follow the current data)."""
    _index_command(True, url, model, version, kind, metric, lists, as_json)


@app.command()
def worker(
    handler: Annotated[
        str, typer.Option(help="Job handler: package.module:function or file.py:function.")
    ],
    physics_check: Annotated[
        str | None, typer.Option(help="Optional physics check: module:function(job, result).")
    ] = None,
    worker_id: Annotated[str | None, typer.Option(help="Consumer name (default host:pid).")] = None,
    max_jobs: Annotated[int | None, typer.Option(help="Exit after this many jobs.")] = None,
    idle_exit: Annotated[
        float | None, typer.Option(help="Exit after this many idle seconds.")
    ] = None,
    poll: Annotated[float, typer.Option(help="Lease wait per poll [s].")] = 1.0,
    url: UrlOpt = None,
    redis_url: Annotated[
        str | None,
        typer.Option(help="Redis URL (default REDIS_URL; unset = SQL lease-table queue)."),
    ] = None,
    stream: Annotated[str | None, typer.Option(help="Redis stream key.")] = None,
) -> None:
    """Run a job worker in this process until interrupted (or --max-jobs/--idle-exit)."""
    import logging
    import signal

    from acie.config import get_settings
    from acie.jobs import Worker, load_handler, open_job_queue

    logging.basicConfig(
        level=get_settings().LOG_LEVEL.value,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    update: dict[str, Any] = {"ACIE_DATABASE_URL": _url(url)}
    if redis_url:
        update["REDIS_URL"] = redis_url
    settings = get_settings().model_copy(update=update)
    queue = open_job_queue(settings, stream=stream)
    w = Worker(
        queue,
        load_handler(handler),
        physics_check=load_handler(physics_check) if physics_check else None,
        worker_id=worker_id,
    )
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    typer.echo(f"worker {w.worker_id} on the {queue.backend_name} queue", err=True)
    try:
        n = w.run(max_jobs=max_jobs, idle_exit_s=idle_exit, poll_s=poll)
    except KeyboardInterrupt:
        n = w.processed
    finally:
        queue.close()
    typer.echo(f"worker {w.worker_id} processed {n} jobs", err=True)
