"""registry: the clerk's queue of possible duplicates, and citizens by birth date.

One row per pair of records that may be one person (backend/registry/dedup): the newer
record, the existing one, the score, what matched, and the clerk's decision. The
birth-date index serves the check at registration, which looks up the people born on
the new person's birth date and on the dates one typing slip from it.

Revision ID: 0021
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
STATUSES = ("open", "same_person", "different_people")
SOURCES = ("registration", "import")


def upgrade() -> None:
    op.create_table(
        "duplicate_candidates",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("new_citizen_id", sa.Integer, nullable=False),
        sa.Column("existing_citizen_id", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("name_similarity", sa.Float, nullable=False),
        sa.Column("matched", sa.String(100), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(20), server_default="open", nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.current_timestamp(),
                  nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", TS),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_candidates")),
        sa.ForeignKeyConstraint(
            ["new_citizen_id"], ["citizens.id"],
            name=op.f("fk_duplicate_candidates_new_citizen_id_citizens")),
        sa.ForeignKeyConstraint(
            ["existing_citizen_id"], ["citizens.id"],
            name=op.f("fk_duplicate_candidates_existing_citizen_id_citizens")),
        sa.UniqueConstraint("new_citizen_id", "existing_citizen_id",
                            name="uq_duplicate_candidates_pair"),
        sa.CheckConstraint(f"status IN {STATUSES!r}",
                           name=op.f("ck_duplicate_candidates_status_known")),
        sa.CheckConstraint(f"source IN {SOURCES!r}",
                           name=op.f("ck_duplicate_candidates_source_known")),
        sa.CheckConstraint("new_citizen_id <> existing_citizen_id",
                           name=op.f("ck_duplicate_candidates_not_itself")),
        sa.CheckConstraint(
            "(status = 'open' AND decided_by IS NULL AND decided_at IS NULL) OR "
            "(status <> 'open' AND decided_by IS NOT NULL AND decided_at IS NOT NULL)",
            name=op.f("ck_duplicate_candidates_decision_named")),
    )
    op.create_index("ix_duplicate_candidates_status_id", "duplicate_candidates",
                    ["status", "id"])
    op.create_index("ix_duplicate_candidates_new_citizen_id", "duplicate_candidates",
                    ["new_citizen_id"])
    op.create_index("ix_duplicate_candidates_existing_citizen_id", "duplicate_candidates",
                    ["existing_citizen_id"])
    op.create_index("ix_citizens_birth_date", "citizens", ["birth_date"])


def downgrade() -> None:
    op.drop_index("ix_citizens_birth_date", table_name="citizens")
    op.drop_table("duplicate_candidates")
