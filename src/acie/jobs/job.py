"""A job as callers see it: a frozen snapshot of one ``jobs`` row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from acie.jobs.state import TERMINAL_STATES, JobState

__all__ = ["Job", "to_job"]


@dataclass(frozen=True)
class Job:
    """A snapshot of one job row."""

    id: uuid.UUID
    request_id: str
    state: JobState
    payload: dict[str, Any] = field(default_factory=dict)
    user_sub: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    delivery_id: str | None = None
    model_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        """Whether the job has reached a final state (it will never change again)."""
        return self.state in TERMINAL_STATES

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (ids as strings, timestamps ISO 8601 UTC)."""
        out: dict[str, Any] = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            if isinstance(v, uuid.UUID):
                v = str(v)
            elif isinstance(v, datetime):
                v = v.isoformat()
            elif isinstance(v, JobState):
                v = v.value
            out[k] = v
        return out


def to_job(row: Any) -> Job:
    """A :class:`Job` snapshot of a ``jobs`` row (:class:`acie.store.schema.Job`)."""
    return Job(
        id=row.id,
        request_id=row.request_id,
        state=JobState(row.state),
        payload=row.payload,
        user_sub=row.user_sub,
        result=row.result,
        error=row.error,
        attempts=row.attempts,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        delivery_id=row.delivery_id,
        model_id=row.model_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
