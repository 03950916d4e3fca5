"""Store: SQL schema and migrations, the append-only audit log, vector indexes, backups."""

from acie.store.audit import AuditHead, AuditLog, VerifyResult
from acie.store.database import Backend, create_engine_for, migrate, session_scope

__all__ = [
    "AuditHead",
    "AuditLog",
    "Backend",
    "VerifyResult",
    "create_engine_for",
    "migrate",
    "session_scope",
]
