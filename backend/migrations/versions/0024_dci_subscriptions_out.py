"""dci_subscriptions_out: the subscriptions we made at the registries we pull from.

A notification from a peer is taken only for a live subscription of ours there, and
only inside its region (backend/dci/inbound.py). And the scopes of the token a peer's
request or subscription came with (`scope` on dci_transactions and dci_subscriptions):
what its answers and notifications may carry is those within the peer's own.

Revision ID: 0024
Revises: 0023
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

TABLE = "dci_subscriptions_out"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("correlation_id", sa.String(99), nullable=False),
        sa.Column("peer_id", sa.String(99), nullable=False),
        sa.Column("region_prefix", sa.String(10), nullable=False),
        sa.Column("transaction_id", sa.String(99), nullable=False),
        sa.Column("reference_id", sa.String(99), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('subscribe', 'unsubscribe')",
                           name=op.f(f"ck_{TABLE}_status")),
        sa.ForeignKeyConstraint(["peer_id"], ["dci_peers.sender_id"],
                                name=op.f(f"fk_{TABLE}_peer_id_dci_peers")),
        sa.PrimaryKeyConstraint("correlation_id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("peer_id", "transaction_id", name=op.f("uq_dci_subscriptions_out_txn")),
    )
    op.create_index(op.f(f"ix_{TABLE}_peer_id"), TABLE, ["peer_id"])
    for table in ("dci_transactions", "dci_subscriptions"):
        op.add_column(table, sa.Column("scope", sa.String(100)))


def downgrade() -> None:
    for table in ("dci_transactions", "dci_subscriptions"):
        op.drop_column(table, "scope")
    op.drop_index(op.f(f"ix_{TABLE}_peer_id"), table_name=TABLE)
    op.drop_table(TABLE)
