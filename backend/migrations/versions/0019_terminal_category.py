"""identity: an agent terminal's category, which purse rules name.

A programme's services file may say which categories of agent shop redeem a purse
(`agent_categories`, e.g. only "e-warong" shops redeem the food credit); the ledger
reads the redeeming terminal's `category` to decide. NULL for every existing terminal:
such an agent is in no category, so a purse that lists categories is not redeemed
there until an admin registers the shop with one. Purses without the rule (all of the
default file's) are unaffected.

Revision ID: 0019
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("terminals", sa.Column("category", sa.String(40), nullable=True))


def downgrade() -> None:
    # SQLite: batch mode copies the table with its constraints.
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("category")
