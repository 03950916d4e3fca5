"""local accounts: an argon2 password hash on users

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 21:50:00

``users.password_hash`` holds the argon2id hash (PHC string) of a local account's
password (``acie admin user add``); ``NULL`` for users known only from an external
identity provider's tokens, who cannot sign in with a password.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``users.password_hash``."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))


def downgrade() -> None:
    """Drop ``users.password_hash``."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
