"""cards tables: cards, challenges, card sessions, published CRLs.

Revision ID: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LIVE_WHERE = "status IN ('active', 'suspended')"
STATUSES = "status IN ('active', 'suspended', 'revoked', 'superseded')"
REASONS = ("revocation_reason IS NULL OR revocation_reason IN ('unspecified', "
           "'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', "
           "'cessationOfOperation', 'certificateHold', 'removeFromCRL', "
           "'privilegeWithdrawn', 'aACompromise')")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cards",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("serial", sa.String(20), nullable=False),
        sa.Column("card_uuid", sa.String(36), nullable=False),
        sa.Column("citizen_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("revocation_reason", sa.String(24)),
        sa.Column("status_changed_at", TS),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("cert_9a_sha256", sa.String(64), nullable=False),
        sa.Column("cert_9e_sha256", sa.String(64), nullable=False),
        sa.Column("cert_9a_serial", sa.String(42), nullable=False),
        sa.Column("cert_9e_serial", sa.String(42), nullable=False),
        sa.Column("replaces_id", sa.Integer),
        sa.Column("created_at", TS, server_default=sa.func.current_timestamp(),
                  nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"],
                                name="fk_cards_citizen_id_citizens"),
        sa.ForeignKeyConstraint(["replaces_id"], ["cards.id"],
                                name="fk_cards_replaces_id_cards"),
        sa.CheckConstraint(STATUSES, name=op.f("ck_cards_status")),
        sa.CheckConstraint(REASONS, name=op.f("ck_cards_revocation_reason")),
        sa.UniqueConstraint("serial", name="uq_cards_serial"),
        sa.UniqueConstraint("card_uuid", name="uq_cards_card_uuid"),
        sa.UniqueConstraint("cert_9a_sha256", name="uq_cards_cert_9a_sha256"),
        sa.UniqueConstraint("cert_9e_sha256", name="uq_cards_cert_9e_sha256"),
    )
    op.create_index("ix_cards_citizen_id", "cards", ["citizen_id"])
    op.create_index("uq_cards_one_live_per_citizen", "cards", ["citizen_id"], unique=True,
                    postgresql_where=sa.text(LIVE_WHERE), sqlite_where=sa.text(LIVE_WHERE))

    op.create_table(
        "card_challenges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("nonce_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS),
        sa.UniqueConstraint("nonce_hash", name="uq_card_challenges_nonce_hash"),
    )
    op.create_index("ix_card_challenges_expires_at", "card_challenges", ["expires_at"])

    op.create_table(
        "card_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("card_id", sa.Integer, nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("terminal_kind", sa.String(16), nullable=False),
        sa.Column("assurance", sa.String(8), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ended_at", TS),
        sa.Column("end_reason", sa.String(32)),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name="fk_card_sessions_card_id_cards"),
        sa.CheckConstraint("assurance IN ('tap', 'pin')", name=op.f("ck_card_sessions_assurance")),
        sa.UniqueConstraint("token_hash", name="uq_card_sessions_token_hash"),
        sa.UniqueConstraint("public_id", name="uq_card_sessions_public_id"),
    )
    op.create_index("ix_card_sessions_card_id", "card_sessions", ["card_id"])
    op.create_index("ix_card_sessions_expires_at", "card_sessions", ["expires_at"])

    op.create_table(
        "card_crls",
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("this_update", TS, nullable=False),
        sa.Column("next_update", TS, nullable=False),
        sa.Column("der", sa.LargeBinary, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("card_crls")
    op.drop_index("ix_card_sessions_expires_at", "card_sessions")
    op.drop_index("ix_card_sessions_card_id", "card_sessions")
    op.drop_table("card_sessions")
    op.drop_index("ix_card_challenges_expires_at", "card_challenges")
    op.drop_table("card_challenges")
    op.drop_index("uq_cards_one_live_per_citizen", "cards")
    op.drop_index("ix_cards_citizen_id", "cards")
    op.drop_table("cards")
