r"""The append-only, hash-chained audit log (``inference_logs``).

Every row carries ``seq`` (1, 2, 3 … without gaps), ``prev_hash`` (the previous row's
hash; 64 zeros for the first row) and ``row_hash``::

    row_hash = SHA-256( prev_hash ‖ "\n" ‖ canonical JSON of the row's fields and seq )

The sequence number is assigned while holding the log's lock (SQLite: ``BEGIN
IMMEDIATE``, the database write lock; PostgreSQL: a transaction-scoped advisory lock),
so concurrent appends from threads or processes always extend the chain one by one.
UPDATE, DELETE and TRUNCATE are refused by triggers (migration ``0002``); an INSERT
onto an existing ``seq`` or ``row_hash`` (SQLite's ``INSERT OR REPLACE``) is refused, and
PostgreSQL computes ``seq``, ``prev_hash`` and ``row_hash`` itself in a trigger, so a
client that may INSERT cannot place a row or choose its hash (migration ``0003``).

:meth:`AuditLog.verify` recomputes the chain and names the first bad row. Deleting
the newest rows leaves a valid, shorter chain; to catch that, export the head
(:meth:`AuditLog.export_head`) somewhere outside the database and pass it to
``verify(anchor=...)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, text

from acie.errors import AuditIntegrityError, DataFormatError, InputValidationError
from acie.store.database import Backend, backend_of, translate_errors
from acie.store.schema import InferenceLog, utcnow

__all__ = ["GENESIS_HASH", "AuditHead", "AuditLog", "AuditRecord", "VerifyResult", "row_digest"]

GENESIS_HASH = "0" * 64

#: key of the PostgreSQL advisory lock that serialises appends (crc32 of the table name)
_PG_LOCK_KEY = zlib.crc32(b"acie.inference_logs")

_FIELDS = (
    "request_id",
    "user_sub",
    "timestamp",
    "compute_duration_ms",
    "physics_violation_score",
    "action",
    "resource",
    "ip",
)


_MAX_LENGTH = {"request_id": 255, "user_sub": 255, "action": 255, "resource": 255, "ip": 45}


@dataclass(frozen=True)
class AuditRecord:
    """One row of the audit log as stored (timestamp timezone-aware UTC)."""

    seq: int
    request_id: str
    user_sub: str | None
    timestamp: datetime
    compute_duration_ms: float | None
    physics_violation_score: float | None
    action: str
    resource: str | None
    ip: str | None
    prev_hash: str
    row_hash: str


@dataclass(frozen=True)
class AuditHead:
    """The newest row of the chain: its sequence number and hash (``seq`` 0 = empty log)."""

    seq: int
    row_hash: str

    def to_json(self) -> str:
        """The anchor-file text: ``{"row_hash": ..., "seq": ...}`` with sorted keys."""
        return json.dumps({"seq": self.seq, "row_hash": self.row_hash}, sort_keys=True)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> AuditHead:
        """Read an anchor file written by :meth:`AuditLog.export_head`."""
        try:
            data = json.loads(Path(path).read_text())
            head = cls(seq=int(data["seq"]), row_hash=str(data["row_hash"]))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DataFormatError(
                f"audit anchor file {str(path)!r} must hold JSON {{'seq': int, 'row_hash': "
                f"64 hex digits}}; reading it failed: {err}"
            ) from err
        if head.seq < 0 or len(head.row_hash) != 64:
            raise DataFormatError(f"audit anchor file {str(path)!r} is malformed; got {data!r}")
        return head


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :meth:`AuditLog.verify`."""

    ok: bool
    rows: int
    head: AuditHead
    bad_row: int | None = None
    message: str = "audit chain intact"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields, the head as a nested mapping."""
        d = asdict(self)
        d["head"] = asdict(self.head)
        return d


def _canonical_timestamp(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_float(x: float | None) -> str | None:
    return None if x is None else repr(float(x))


def row_digest(seq: int, prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 hex digest of one row given its sequence number and the previous hash."""
    doc = {
        "seq": int(seq),
        "request_id": fields["request_id"],
        "user_sub": fields["user_sub"],
        "timestamp": _canonical_timestamp(fields["timestamp"]),
        "compute_duration_ms": _canonical_float(fields["compute_duration_ms"]),
        "physics_violation_score": _canonical_float(fields["physics_violation_score"]),
        "action": fields["action"],
        "resource": fields["resource"],
        "ip": fields["ip"],
    }
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body.encode("utf-8")).hexdigest()


def _validate(record: dict[str, Any]) -> dict[str, Any]:
    unknown = set(record) - set(_FIELDS)
    if unknown:
        raise InputValidationError(
            f"audit records take the fields {', '.join(_FIELDS)}; got unknown {sorted(unknown)}"
        )
    out = {k: record.get(k) for k in _FIELDS}
    for name in ("request_id", "action"):
        if not isinstance(out[name], str) or not out[name]:
            raise InputValidationError(
                f"audit field {name!r} must be a non-empty string; got {out[name]!r}"
            )
    for name in ("user_sub", "resource", "ip"):
        if out[name] is not None and not isinstance(out[name], str):
            raise InputValidationError(
                f"audit field {name!r} must be a string or None; got {out[name]!r}"
            )
    for name, limit in _MAX_LENGTH.items():
        value = out[name]
        if isinstance(value, str) and len(value) > limit:
            raise InputValidationError(
                f"audit field {name!r} must be at most {limit} characters; got {len(value)}"
            )
    for name in ("compute_duration_ms", "physics_violation_score"):
        v = out[name]
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InputValidationError(
                    f"audit field {name!r} must be a finite number or None; got {v!r}"
                )
            out[name] = float(v)
    ts = out["timestamp"] if out["timestamp"] is not None else utcnow()
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        raise InputValidationError(
            f"audit field 'timestamp' must be a timezone-aware datetime; got {ts!r}"
        )
    out["timestamp"] = ts.astimezone(UTC)
    return out


def _to_record(row: Any) -> AuditRecord:
    return AuditRecord(**{k: getattr(row, k) for k in AuditRecord.__dataclass_fields__})


class AuditLog:
    """The audit log of one database.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of a migrated database (:func:`acie.store.database.migrate`).

    Examples
    --------
    >>> log = AuditLog(engine)                                      # doctest: +SKIP
    >>> log.append(request_id="r1", user_sub="alice", action="infer", resource="model/x",
    ...            compute_duration_ms=12.5, physics_violation_score=0.01, ip="10.0.0.1")
    >>> log.verify().ok
    True
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._backend = backend_of(engine)

    def append(self, **record: Any) -> AuditRecord:
        """Append one row; the sequence number and hashes are assigned under the log's lock.

        Parameters
        ----------
        request_id, action : str
            Required.
        user_sub, resource, ip : str or None
        timestamp : datetime, optional
            Timezone-aware; default now (UTC).
        compute_duration_ms : float [ms] or None
        physics_violation_score : float [dimensionless] or None

        Returns
        -------
        AuditRecord
            The stored row.
        """
        return self.append_many([record])[0]

    def append_many(self, records: Sequence[Mapping[str, Any]]) -> list[AuditRecord]:
        """Append several rows in one transaction (all or none), chained in the given order.

        Every record is validated before anything is written; the fields are those of
        :meth:`append`. One lock acquisition and one commit serve the whole batch, which
        is what a busy server's audit writer wants.
        """
        all_fields = [_validate(dict(r)) for r in records]
        if not all_fields:
            return []
        with translate_errors():
            if self._backend is Backend.sqlite:
                conn_cm = self.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
            else:
                conn_cm = self.engine.connect()
            with conn_cm as conn, conn.begin():
                if self._backend is Backend.postgresql:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                last = conn.execute(
                    select(InferenceLog.seq, InferenceLog.row_hash)
                    .order_by(InferenceLog.seq.desc())
                    .limit(1)
                ).first()
                seq = 0 if last is None else last.seq
                prev = GENESIS_HASH if last is None else last.row_hash
                rows = []
                for fields in all_fields:
                    seq += 1
                    row_hash = row_digest(seq, prev, fields)
                    rows.append({**fields, "seq": seq, "prev_hash": prev, "row_hash": row_hash})
                    prev = row_hash
                conn.execute(insert(InferenceLog), rows)
                if self._backend is Backend.postgresql:
                    # the database computed seq, prev_hash and row_hash (migration 0003)
                    stored = conn.execute(
                        select(InferenceLog)
                        .where(InferenceLog.seq > rows[0]["seq"] - 1)
                        .order_by(InferenceLog.seq)
                        .limit(len(rows))
                    ).all()
                    return [_to_record(row) for row in stored]
        return [AuditRecord(**values) for values in rows]

    def head(self) -> AuditHead:
        """The newest row's sequence number and hash (``AuditHead(0, GENESIS_HASH)`` if empty)."""
        with translate_errors(), self.engine.connect() as conn:
            last = conn.execute(
                select(InferenceLog.seq, InferenceLog.row_hash)
                .order_by(InferenceLog.seq.desc())
                .limit(1)
            ).first()
        return AuditHead(0, GENESIS_HASH) if last is None else AuditHead(last.seq, last.row_hash)

    def export_head(self, path: str | os.PathLike[str]) -> AuditHead:
        """Write the head to ``path`` (JSON, atomically) to anchor the log outside the database."""
        head = self.head()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(head.to_json() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return head

    def count(self) -> int:
        """Number of rows."""
        with translate_errors(), self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(InferenceLog)).scalar_one())

    def records(self, *, after_seq: int = 0, batch: int = 5000) -> Iterator[AuditRecord]:
        """Rows in sequence order, fetched in batches (keyset pagination on ``seq``)."""
        cursor = after_seq
        while True:
            with translate_errors(), self.engine.connect() as conn:
                rows = conn.execute(
                    select(InferenceLog)
                    .where(InferenceLog.seq > cursor)
                    .order_by(InferenceLog.seq)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                yield _to_record(row)
            cursor = rows[-1].seq

    def verify(
        self,
        *,
        anchor: AuditHead | str | os.PathLike[str] | None = None,
        raise_on_error: bool = True,
    ) -> VerifyResult:
        """Recompute the chain from the first row; stop at the first bad row.

        Parameters
        ----------
        anchor : AuditHead or path, optional
            A head exported earlier. The chain must still contain that row with that
            hash, so deleting or rewriting the newest rows is detected.
        raise_on_error : bool
            Raise :class:`~acie.errors.AuditIntegrityError` (``.row`` = the first bad
            sequence number) instead of returning a failed result.

        Returns
        -------
        VerifyResult
        """
        if anchor is not None and not isinstance(anchor, AuditHead):
            anchor = AuditHead.read(anchor)
        expected_seq, prev, n = 1, GENESIS_HASH, 0
        failure: tuple[int, str] | None = None
        for rec in self.records():
            if rec.seq != expected_seq:
                failure = (expected_seq, f"row {expected_seq} is missing (next row is {rec.seq})")
                break
            if rec.prev_hash != prev:
                failure = (
                    rec.seq,
                    f"row {rec.seq}: prev_hash does not match row "
                    f"{rec.seq - 1}'s hash (a row was removed or rewritten)",
                )
                break
            fields = {k: getattr(rec, k) for k in _FIELDS}
            if row_digest(rec.seq, rec.prev_hash, fields) != rec.row_hash:
                failure = (
                    rec.seq,
                    f"row {rec.seq}: contents do not match its hash (the row was modified)",
                )
                break
            prev, n, expected_seq = rec.row_hash, n + 1, rec.seq + 1
        head = AuditHead(n, prev)
        if failure is None and anchor is not None and anchor.seq > 0:
            if n < anchor.seq:
                failure = (
                    n + 1,
                    f"the log ends at row {n} but the anchor names row "
                    f"{anchor.seq}: rows {n + 1}..{anchor.seq} were deleted",
                )
            else:
                with translate_errors(), self.engine.connect() as conn:
                    h = conn.execute(
                        select(InferenceLog.row_hash).where(InferenceLog.seq == anchor.seq)
                    ).scalar_one()
                if h != anchor.row_hash:
                    failure = (anchor.seq, f"row {anchor.seq}'s hash differs from the anchor's")
        if failure is not None:
            if raise_on_error:
                raise AuditIntegrityError(
                    f"audit log verification failed: {failure[1]}", row=failure[0]
                )
            return VerifyResult(False, n, head, bad_row=failure[0], message=failure[1])
        return VerifyResult(True, n, head)
