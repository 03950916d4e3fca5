"""audit log append-only: triggers in both backends, a restricted role in PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:05:00

``inference_logs`` refuses UPDATE and DELETE (row triggers) in both backends and
TRUNCATE (statement trigger) in PostgreSQL. PostgreSQL also gets the NOLOGIN role
``acie_app``: the application's login role should be a member of it. It may read and
write every table but only SELECT and INSERT on ``inference_logs``, so even with the
triggers disabled it cannot rewrite history.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APP_ROLE = "acie_app"

_SQLITE_TRIGGERS = [
    """CREATE TRIGGER inference_logs_no_update BEFORE UPDATE ON inference_logs
       BEGIN SELECT RAISE(ABORT, 'inference_logs is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER inference_logs_no_delete BEFORE DELETE ON inference_logs
       BEGIN SELECT RAISE(ABORT, 'inference_logs is append-only: DELETE refused'); END""",
]

_PG_STATEMENTS = [
    """CREATE OR REPLACE FUNCTION acie_audit_append_only() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'inference_logs is append-only: % refused', TG_OP
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER inference_logs_no_update_delete
       BEFORE UPDATE OR DELETE ON inference_logs
       FOR EACH ROW EXECUTE FUNCTION acie_audit_append_only()""",
    """CREATE TRIGGER inference_logs_no_truncate
       BEFORE TRUNCATE ON inference_logs
       FOR EACH STATEMENT EXECUTE FUNCTION acie_audit_append_only()""",
    # roles are cluster-wide: create once, tolerate a concurrent creator
    f"""DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
           CREATE ROLE {APP_ROLE} NOLOGIN;
         END IF;
       EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
       END $$""",
    "GRANT USAGE ON SCHEMA {schema} TO " + APP_ROLE,
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO " + APP_ROLE,
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO " + APP_ROLE,
    f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON inference_logs FROM {APP_ROLE}",
    "REVOKE UPDATE, DELETE, TRUNCATE ON inference_logs FROM PUBLIC",
    f"GRANT SELECT, INSERT ON inference_logs TO {APP_ROLE}",
]


def _schema() -> str:
    from sqlalchemy import text

    name = op.get_bind().execute(text("SELECT quote_ident(current_schema())")).scalar_one()
    return str(name)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        schema = _schema()  # the schema the tables were created in (first on search_path)
        for statement in _PG_STATEMENTS:
            op.execute(statement.replace("{schema}", schema))
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS inference_logs_no_truncate ON inference_logs")
        op.execute("DROP TRIGGER IF EXISTS inference_logs_no_update_delete ON inference_logs")
        op.execute("DROP FUNCTION IF EXISTS acie_audit_append_only()")
        schema = _schema()
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {APP_ROLE}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {APP_ROLE}")
    else:
        op.execute("DROP TRIGGER IF EXISTS inference_logs_no_update")
        op.execute("DROP TRIGGER IF EXISTS inference_logs_no_delete")
