"""cards: issuance at an enrolment desk (issuance_jobs; terminals of kind 'desk').

An admin starts a job for a citizen and a desk; the desk's reader daemon claims it,
the hub certifies the card's keys and activates the card (backend/cards/desk.py).
The terminals' kind constraint gains 'desk'; SQLite cannot alter a constraint, so
batch mode copies the table there (nothing references terminals before this
revision), PostgreSQL alters it in place.

Revision ID: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
KINDS = "'kiosk', 'counter', 'agent', 'gate'"
STATUSES = ("status IN ('requested', 'claimed', 'keys_certified', 'active', 'failed', "
            "'cancelled')")
OPEN_WHERE = "status IN ('requested', 'claimed', 'keys_certified', 'failed')"


def _terminal_kinds(kinds: str) -> None:
    with op.batch_alter_table("terminals") as batch:
        batch.drop_constraint(op.f("ck_terminals_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_terminals_kind"), f"kind IN ({kinds})")


def upgrade() -> None:
    _terminal_kinds(KINDS + ", 'desk'")
    op.create_table(
        "issuance_jobs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("citizen_id", sa.Integer, nullable=False),
        sa.Column("desk_id", sa.String(40)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("old_reason", sa.String(24), nullable=False),
        sa.Column("requested_by", sa.String(120), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("serial", sa.String(20)),
        sa.Column("card_uuid", sa.String(36)),
        sa.Column("expires_at", TS),
        sa.Column("claimed_at", TS),
        sa.Column("cert_9a", sa.LargeBinary),
        sa.Column("cert_9e", sa.LargeBinary),
        sa.Column("certified_at", TS),
        sa.Column("card_id", sa.Integer),
        sa.Column("failure", sa.String(200)),
        sa.Column("failed_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("updated_at", TS, server_default=sa.func.current_timestamp(),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuance_jobs")),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"],
                                name=op.f("fk_issuance_jobs_citizen_id_citizens")),
        sa.ForeignKeyConstraint(["desk_id"], ["terminals.id"],
                                name=op.f("fk_issuance_jobs_desk_id_terminals")),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_issuance_jobs_card_id_cards")),
        sa.CheckConstraint(STATUSES, name=op.f("ck_issuance_jobs_status")),
        sa.CheckConstraint("status NOT IN ('claimed', 'keys_certified', 'active') OR "
                           "(serial IS NOT NULL AND card_uuid IS NOT NULL AND "
                           "expires_at IS NOT NULL)", name=op.f("ck_issuance_jobs_claim_made")),
        sa.CheckConstraint("status != 'keys_certified' OR "
                           "(cert_9a IS NOT NULL AND cert_9e IS NOT NULL)",
                           name=op.f("ck_issuance_jobs_keys_certified")),
        sa.CheckConstraint("status != 'active' OR card_id IS NOT NULL",
                           name=op.f("ck_issuance_jobs_active_card")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_issuance_jobs_attempts")),
    )
    op.create_index("ix_issuance_jobs_citizen_id", "issuance_jobs", ["citizen_id"])
    op.create_index("ix_issuance_jobs_desk_status", "issuance_jobs", ["desk_id", "status"])
    op.create_index("uq_issuance_jobs_one_open_per_citizen", "issuance_jobs", ["citizen_id"],
                    unique=True, postgresql_where=sa.text(OPEN_WHERE),
                    sqlite_where=sa.text(OPEN_WHERE))


def downgrade() -> None:
    op.drop_table("issuance_jobs")
    # A desk cannot exist in the older schema: its terminals go with the feature.
    op.execute(sa.text("DELETE FROM terminals WHERE kind = 'desk'"))
    _terminal_kinds(KINDS)
