"""datasets: ingested image cubes with their catalogues

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 22:10:00

One row per ingested cube (``acie data ingest``, ``POST /v1/datasets``): the SHA-256
of the raw cube file (unique: a re-upload returns the existing dataset) and of its
catalogue, who owns it, its shape, where it is stored (relative to ``ACIE_DATA_DIR``)
and the model whose encoder embedded it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from acie.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``datasets``."""
    op.create_table(
        "datasets",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("catalogue_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("n_images", sa.Integer(), nullable=False),
        sa.Column("bands", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column(
            "model_id", sa.Integer(), sa.ForeignKey("models.id", ondelete="RESTRICT"), nullable=True
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("sha256", name="uq_datasets_sha256"),
    )


def downgrade() -> None:
    """Drop ``datasets``."""
    op.drop_table("datasets")
