"""cards: the holder's tap lock (tap_locked, tap_locked_at).

A citizen can lock their card for taps at a kiosk (after the PIN): while locked, a
token signed with the tap key (9E) is refused `tap_locked` and every use needs the PIN
(`backend/cards/taplock.py`). Every existing card starts unlocked. On PostgreSQL (11
and later) a column added with a constant default costs no table rewrite, so this
runs in an instant on a city's whole card table.

Revision ID: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("cards", sa.Column("tap_locked", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("cards", sa.Column("tap_locked_at", TS))


def downgrade() -> None:
    # SQLite: batch mode copies the table (its partial unique index comes along).
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("tap_locked_at")
        batch.drop_column("tap_locked")
