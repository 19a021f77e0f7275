"""dci: SPDCI Social Registry peers, the transactions they sent, their subscriptions.

Peers are OAuth2 clients and message signers (their JWKS kept as text); transactions
keep statuses only, never the personal data answered (backend/dci/models.py).
Numbered 0023 on 0021: the grievances branch takes 0022; the chain is re-linked at merge.

Revision ID: 0023
Revises: 0021
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _created() -> sa.Column:
    return sa.Column("created_at", TS, server_default=sa.func.current_timestamp(),
                     nullable=False)


def _peer(table: str) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    return (sa.Column("peer_id", sa.String(99), nullable=False),
            sa.ForeignKeyConstraint(["peer_id"], ["dci_peers.sender_id"],
                                    name=op.f(f"fk_{table}_peer_id_dci_peers")))


def upgrade() -> None:
    op.create_table(
        "dci_peers",
        sa.Column("sender_id", sa.String(99), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("callback_uri", sa.String(500), nullable=False),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("jwks", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("token_generation", sa.Integer, nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_dci_peers")),
        sa.UniqueConstraint("client_id", name=op.f("uq_dci_peers_client_id")),
    )
    op.create_table(
        "dci_subscriptions",
        sa.Column("code", sa.String(40), nullable=False),
        *_peer("dci_subscriptions"),
        sa.Column("transaction_id", sa.String(99), nullable=False),
        sa.Column("reference_id", sa.String(99), nullable=False),
        sa.Column("reg_event_type", sa.String(99), nullable=False),
        sa.Column("notify_record_type", sa.String(99), nullable=False),
        sa.Column("filter", sa.Text, nullable=False),
        sa.Column("citizen_id", sa.Integer),
        sa.Column("household_id", sa.Integer),
        sa.Column("region_prefix", sa.String(10)),
        sa.Column("status", sa.String(12), nullable=False),
        _created(),
        sa.Column("ended_at", TS),
        sa.CheckConstraint("status IN ('subscribe', 'unsubscribe')", name=op.f(
            "ck_dci_subscriptions_status")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_dci_subscriptions")),
    )
    for column in ("citizen_id", "household_id", "peer_id"):
        op.create_index(op.f(f"ix_dci_subscriptions_{column}"), "dci_subscriptions", [column])
    op.create_table(
        "dci_transactions",
        sa.Column("correlation_id", sa.String(40), nullable=False),
        *_peer("dci_transactions"),
        sa.Column("message_id", sa.String(99), nullable=False),
        sa.Column("transaction_id", sa.String(99), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("status", sa.String(4), nullable=False),
        sa.Column("references", sa.Text, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("callback_uri", sa.String(500)),
        sa.Column("delivered_at", TS),
        _created(),
        sa.CheckConstraint("status IN ('rcvd', 'pdng', 'succ', 'rjct')", name=op.f(
            "ck_dci_transactions_status")),
        sa.PrimaryKeyConstraint("correlation_id", name=op.f("pk_dci_transactions")),
        sa.UniqueConstraint("peer_id", "message_id", name="uq_dci_transactions_message"),
    )
    for column in ("peer_id", "transaction_id"):
        op.create_index(op.f(f"ix_dci_transactions_{column}"), "dci_transactions", [column])


def downgrade() -> None:
    op.drop_table("dci_transactions")
    op.drop_table("dci_subscriptions")
    op.drop_table("dci_peers")
