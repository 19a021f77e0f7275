"""identity: an optional second factor for staff, time-based one-time codes.

`totp_secret` holds the account's TOTP secret sealed with AES-GCM under a key derived
from the hub's SECRET_KEY (`backend/identity/totp.py`), so a dump of this table alone
gives no usable secret; `totp_last_step` is the last 30-second step whose code was
accepted, so no code is taken twice. Both are NULL for every existing account: TOTP
is off until an admin turns it on (`satukartu staff totp enable USERNAME`).

Revision ID: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff_accounts", sa.Column("totp_secret", sa.String(255), nullable=True))
    op.add_column("staff_accounts", sa.Column("totp_last_step", sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite: batch mode copies the table with its constraints.
    with op.batch_alter_table("staff_accounts") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
