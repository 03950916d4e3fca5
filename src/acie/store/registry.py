"""Model registry rows: a model is a name plus the SHA-256 of its weights.

The version of a checkpoint file is :func:`acie.deepscm.checkpoint.sha256_file`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, select

from acie.errors import InputValidationError, NotFoundError
from acie.store.database import session_scope, writing
from acie.store.schema import Model

__all__ = ["ensure_model", "find_model"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def ensure_model(
    engine: Engine, name: str, version: str, metadata: Mapping[str, Any] | None = None
) -> int:
    """The id of model ``name`` at ``version`` (a SHA-256 hex digest), created if missing."""
    if not isinstance(name, str) or not name or len(name) > 255:
        raise InputValidationError(
            f"model name must be a non-empty string of at most 255 characters; got {name!r}"
        )
    if not isinstance(version, str) or not _SHA256.match(version):
        raise InputValidationError(
            f"model version must be a lowercase hex SHA-256 (64 characters); got {version!r}"
        )
    with session_scope(writing(engine)) as s:  # read, then insert: the write lock first
        found = s.execute(
            select(Model.id).where(Model.name == name, Model.version == version)
        ).scalar()
        if found is not None:
            return int(found)
        row = Model(name=name, version=version, meta=dict(metadata or {}))
        s.add(row)
        s.flush()
        return int(row.id)


def find_model(engine: Engine, name: str, version: str | None = None) -> int:
    """The id of model ``name`` (newest registration when ``version`` is not given)."""
    stmt = select(Model.id).where(Model.name == name)
    if version is not None:
        stmt = stmt.where(Model.version == version)
    with session_scope(engine) as s:
        found = s.execute(stmt.order_by(Model.id.desc()).limit(1)).scalar()
    if found is None:
        raise NotFoundError(
            f"no model named {name!r}" + (f" at version {version}" if version else "")
        )
    return int(found)
