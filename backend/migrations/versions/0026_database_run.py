"""database_run (PostgreSQL): the database server's run, for the card nonces bound to it.

A card token commits without waiting for its WAL to reach the disk, so a crash can lose
the commit that spent a nonce (backend/cards/authentication.py). Nonces are therefore
bound to the run they were issued in, and a token is taken only in that run. A run is
the row of this UNLOGGED table: PostgreSQL empties unlogged tables in every crash
recovery, a single backend's crash included (which leaves `pg_postmaster_start_time()`
as it was), and they are empty on a standby it promotes; a clean shutdown, which loses
no commit, keeps them. The hub writes the row again when it finds none
(`backend.db.Database`), and so starts a new run.

Revision ID: 0026
Revises: 0025
"""
from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE UNLOGGED TABLE database_run ("
               "id integer CONSTRAINT pk_database_run PRIMARY KEY "
               "CONSTRAINT ck_database_run_one CHECK (id = 1), "
               "run uuid NOT NULL DEFAULT gen_random_uuid())")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE database_run")
