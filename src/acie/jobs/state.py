"""The job state machine.

::

    QUEUED ──▶ PROCESSING ──▶ PHYSICS_CHECK ──▶ COMPLETE
       │            │               │
       └────────────┴───────────────┴──────▶ FAILED

A state only moves forward, by compare-and-set on the ``jobs`` row, so a redelivered
job never moves backwards. COMPLETE and FAILED are terminal.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ALLOWED_TRANSITIONS", "TERMINAL_STATES", "JobState", "check_transition"]


class JobState(StrEnum):
    """Where a job is."""

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    PHYSICS_CHECK = "PHYSICS_CHECK"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        """Whether no transition leaves this state (COMPLETE or FAILED)."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.COMPLETE, JobState.FAILED})

ALLOWED_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.PROCESSING, JobState.FAILED}),
    JobState.PROCESSING: frozenset({JobState.PHYSICS_CHECK, JobState.FAILED}),
    JobState.PHYSICS_CHECK: frozenset({JobState.COMPLETE, JobState.FAILED}),
    JobState.COMPLETE: frozenset(),
    JobState.FAILED: frozenset(),
}


def check_transition(old: JobState | str, new: JobState | str) -> tuple[JobState, JobState]:
    """Validate ``old → new``; raise :class:`~acie.errors.InvalidTransitionError` if forbidden."""
    from acie.errors import InvalidTransitionError, UnknownNameError

    try:
        o, n = JobState(old), JobState(new)
    except ValueError:
        raise UnknownNameError(
            f"job states are {', '.join(s.value for s in JobState)}; got {old!r} → {new!r}"
        ) from None
    if n not in ALLOWED_TRANSITIONS[o]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[o])) or "nothing"
        raise InvalidTransitionError(
            f"a job in state {o.value} may move to {allowed}; got {o.value} → {n.value}"
        )
    return o, n
