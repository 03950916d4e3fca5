"""audit log inserts: no overwrite in SQLite, the chain computed by PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 21:10:00

SQLite: ``INSERT OR REPLACE`` (and ``REPLACE``) resolve a conflict by deleting the old
row *without* firing DELETE triggers, so 0002's guards did not stop a rewrite. A BEFORE
INSERT trigger now refuses any insert whose ``seq`` or ``row_hash`` already exists
(the conflict never reaches the REPLACE resolution).

PostgreSQL: a BEFORE INSERT row trigger takes the log's advisory lock and sets ``seq``,
``prev_hash`` and ``row_hash`` itself, with the same canonical form as
:func:`acie.store.audit.row_digest` (Python's ``repr`` of floats, ``json.dumps`` with
``ensure_ascii``), so whatever a client that may INSERT sends, the stored row is the next
correctly hashed link of the chain. A row's content stays what the client sent; what it
cannot do is pick the row's place or hash.
"""

from __future__ import annotations

import zlib

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: the same key as acie.store.audit._PG_LOCK_KEY
_PG_LOCK_KEY = zlib.crc32(b"acie.inference_logs")

_SQLITE_GUARD = """
CREATE TRIGGER inference_logs_no_overwrite BEFORE INSERT ON inference_logs
WHEN EXISTS (SELECT 1 FROM inference_logs WHERE seq = NEW.seq OR row_hash = NEW.row_hash)
BEGIN SELECT RAISE(ABORT, 'inference_logs is append-only: an INSERT onto an existing row refused'); END
"""

# Python's repr() of a finite float from PostgreSQL's shortest round-trip digits
_PG_PYREPR = r"""
CREATE OR REPLACE FUNCTION acie_py_float_repr(x double precision) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET extra_float_digits = 1 AS $$
DECLARE
  s text; neg boolean; digits text; e int; ip text; fp text; n int; r text;
BEGIN
  IF x IS NULL THEN RETURN NULL; END IF;
  s := x::text;
  neg := left(s, 1) = '-';
  IF neg THEN s := substr(s, 2); END IF;
  IF position('e' IN s) > 0 THEN
    e := split_part(s, 'e', 2)::int;
    digits := replace(split_part(s, 'e', 1), '.', '');
  ELSE
    ip := split_part(s, '.', 1);
    fp := split_part(s, '.', 2);
    IF ip <> '0' THEN
      e := length(ip) - 1;
      digits := ip || fp;
    ELSIF fp = '' OR ltrim(fp, '0') = '' THEN
      e := 0;
      digits := '0';
    ELSE
      e := -(length(fp) - length(ltrim(fp, '0')) + 1);
      digits := ltrim(fp, '0');
    END IF;
  END IF;
  digits := rtrim(digits, '0');
  IF digits = '' THEN digits := '0'; END IF;
  n := length(digits);
  IF e < -4 OR e >= 16 THEN
    r := left(digits, 1) || CASE WHEN n > 1 THEN '.' || substr(digits, 2) ELSE '' END
         || 'e' || CASE WHEN e < 0 THEN '-' ELSE '+' END || CASE WHEN abs(e) < 10 THEN '0' ELSE '' END || abs(e)::text;
  ELSIF e >= 0 THEN
    IF n <= e + 1 THEN
      r := digits || repeat('0', e + 1 - n) || '.0';
    ELSE
      r := left(digits, e + 1) || '.' || substr(digits, e + 2);
    END IF;
  ELSE
    r := '0.' || repeat('0', -e - 1) || digits;
  END IF;
  IF neg THEN r := '-' || r; END IF;
  RETURN r;
END $$
"""

# json.dumps(s, ensure_ascii=True): PostgreSQL escapes the same ASCII characters; DEL and
# everything beyond ASCII become \\uXXXX (UTF-16 surrogate pairs above U+FFFF)
_PG_PYJSON = r"""
CREATE OR REPLACE FUNCTION acie_py_json_str(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  r text; out text := ''; c text; code int; v int;
BEGIN
  IF s IS NULL THEN RETURN 'null'; END IF;
  r := to_json(s)::text;
  IF r !~ '[^ -~]' THEN RETURN r; END IF;
  FOREACH c IN ARRAY regexp_split_to_array(r, '') LOOP
    code := ascii(c);
    IF code < 127 THEN
      out := out || c;
    ELSIF code <= 65535 THEN
      out := out || '\u' || lpad(to_hex(code), 4, '0');
    ELSE
      v := code - 65536;
      out := out || '\u' || to_hex(55296 + (v >> 10)) || '\u' || to_hex(56320 + (v & 1023));
    END IF;
  END LOOP;
  RETURN out;
END $$
"""

_PG_CHAIN = """
CREATE OR REPLACE FUNCTION acie_audit_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint; last_hash text; body text;
BEGIN
  PERFORM pg_advisory_xact_lock({key});
  SELECT seq, row_hash INTO last_seq, last_hash
    FROM {schema}.inference_logs ORDER BY seq DESC LIMIT 1;
  IF last_seq IS NULL THEN
    last_seq := 0;
    last_hash := repeat('0', 64);
  END IF;
  NEW.seq := last_seq + 1;
  NEW.prev_hash := last_hash;
  body := '{{"action":' || acie_py_json_str(NEW.action)
    || ',"compute_duration_ms":' || acie_py_json_str(acie_py_float_repr(NEW.compute_duration_ms))
    || ',"ip":' || acie_py_json_str(NEW.ip)
    || ',"physics_violation_score":'
    || acie_py_json_str(acie_py_float_repr(NEW.physics_violation_score))
    || ',"request_id":' || acie_py_json_str(NEW.request_id)
    || ',"resource":' || acie_py_json_str(NEW.resource)
    || ',"seq":' || NEW.seq::text
    || ',"timestamp":' || acie_py_json_str(
         to_char(NEW."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    || ',"user_sub":' || acie_py_json_str(NEW.user_sub) || '}}';
  NEW.row_hash := encode(sha256(convert_to(last_hash || E'\\n' || body, 'UTF8')), 'hex');
  RETURN NEW;
END $$
"""

_PG_TRIGGER = """
CREATE TRIGGER inference_logs_chain BEFORE INSERT ON inference_logs
FOR EACH ROW EXECUTE FUNCTION acie_audit_chain()
"""


def _schema() -> str:
    from sqlalchemy import text

    name = op.get_bind().execute(text("SELECT quote_ident(current_schema())")).scalar_one()
    return str(name)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_PYREPR)
        op.execute(_PG_PYJSON)
        op.execute(_PG_CHAIN.format(key=_PG_LOCK_KEY, schema=_schema()))
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_GUARD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS inference_logs_chain ON inference_logs")
        op.execute("DROP FUNCTION IF EXISTS acie_audit_chain()")
        op.execute("DROP FUNCTION IF EXISTS acie_py_json_str(text)")
        op.execute("DROP FUNCTION IF EXISTS acie_py_float_repr(double precision)")
    else:
        op.execute("DROP TRIGGER IF EXISTS inference_logs_no_overwrite")
