"""programmes: admins' overrides of the configuration, their history, the change counter.

`programme_settings` (per module key: enabled or NULL, parameters as JSON text values,
version, who and when), `programme_changes` (one row per change: before, after, the
approval that allowed it) and `programme_epoch`, one row whose number every change
raises and every hub process reads (backend/programmes/models.py).

Revision ID: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "programme_settings",
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("parameters", Json, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=True),
        sa.Column("updated_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_programme_settings")),
    )
    op.create_table(
        "programme_changes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_by", sa.String(120), nullable=False),
        sa.Column("changed_at", TS, server_default=sa.func.current_timestamp(),
                  nullable=False),
        sa.Column("approval_id", sa.BigInteger(), nullable=True),
        sa.Column("before", Json, nullable=False),
        sa.Column("after", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_changes")),
    )
    op.create_index("ix_programme_changes_key_id", "programme_changes", ["key", "id"])
    epoch = op.create_table(
        "programme_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_programme_epoch_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_epoch")),
    )
    op.bulk_insert(epoch, [{"id": 1, "epoch": 0}])


def downgrade() -> None:
    op.drop_table("programme_epoch")
    op.drop_index("ix_programme_changes_key_id", table_name="programme_changes")
    op.drop_table("programme_changes")
    op.drop_table("programme_settings")
