"""offline: the redemptions agents' daemons made while their link was down, as synced.

One row per terminal and idempotency key, posted, short (the programme's offline-risk
account paid what the purse no longer held) or refused, with the card's certificate
hash and signature (backend/offline). The programme's `offline_risk` ledger account
needs no schema change: it is a programme account that may go below zero. Beside it,
when each terminal was first given each CRL (`offline_crls_served`), which bounds the
time a redemption may claim.

Revision ID: 0020
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ACCEPTED_WHERE = "status IN ('posted', 'shortfall')"


def upgrade() -> None:
    op.create_table(
        "offline_redemptions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("counter", sa.BigInteger, nullable=False),
        sa.Column("card_id", sa.Integer),
        sa.Column("citizen_id", sa.BigInteger),
        sa.Column("programme", sa.String(40), nullable=False),
        sa.Column("purse", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("category", sa.String(40)),
        sa.Column("redeemed_at", TS, nullable=False),
        sa.Column("received_at", TS, server_default=sa.func.current_timestamp(),
                  nullable=False),
        sa.Column("crl_number", sa.BigInteger, nullable=False),
        sa.Column("cert_sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("paid", sa.BigInteger, nullable=False),
        sa.Column("shortfall", sa.BigInteger, nullable=False),
        sa.Column("entry_id", sa.BigInteger),
        sa.Column("reason", sa.String(40)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_redemptions")),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_offline_redemptions_card_id_cards")),
        sa.UniqueConstraint("terminal_id", "key",
                            name=op.f("uq_offline_redemptions_terminal_id_key")),
        sa.CheckConstraint("status IN ('posted', 'shortfall', 'refused')",
                           name=op.f("ck_offline_redemptions_status_known")),
        sa.CheckConstraint("paid >= 0 AND shortfall >= 0 AND paid + shortfall <= amount",
                           name=op.f("ck_offline_redemptions_amounts_in_range")),
        sa.CheckConstraint("status = 'refused' OR (entry_id IS NOT NULL AND "
                           "paid + shortfall = amount)",
                           name=op.f("ck_offline_redemptions_accepted_posted")),
    )
    op.create_index("uq_offline_redemptions_terminal_counter", "offline_redemptions",
                    ["terminal_id", "counter"], unique=True,
                    postgresql_where=sa.text(ACCEPTED_WHERE),
                    sqlite_where=sa.text(ACCEPTED_WHERE))
    op.create_index("ix_offline_redemptions_terminal_redeemed", "offline_redemptions",
                    ["terminal_id", "redeemed_at"])
    op.create_index("ix_offline_redemptions_card_redeemed", "offline_redemptions",
                    ["card_id", "redeemed_at"])
    op.create_table(
        "offline_crls_served",
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("crl_number", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("first_served_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("terminal_id", "crl_number",
                                name=op.f("pk_offline_crls_served")),
    )


def downgrade() -> None:
    op.drop_table("offline_crls_served")
    op.drop_table("offline_redemptions")
