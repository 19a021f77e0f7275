"""audit tables: the append-only record chain and its signed checkpoints.

Revision ID: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("audit_records", "audit_checkpoints")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit table %: % refused, the log is append-only', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


# The whole append in one round trip: the lock, the head, the hashes, the insert. The
# canonical text is chain.py's, spelled in SQL; the verifier recomputes it in Python.
PG_APPEND = r"""
CREATE OR REPLACE FUNCTION audit_append(entries jsonb, at_hint timestamptz DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    head_hash bytea;
    head_at timestamptz;
    stamp timestamptz;
    entry jsonb;
    node bytea;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(5999168903779271764);
    SELECT r.seq, r.hash, r.at INTO head_seq, head_hash, head_at
        FROM audit_records r ORDER BY r.seq DESC LIMIT 1;
    IF head_seq IS NULL THEN
        head_seq := 0;
        head_hash := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
    END IF;
    stamp := COALESCE(at_hint, pg_catalog.clock_timestamp());
    IF head_at IS NOT NULL AND head_at > stamp THEN
        stamp := head_at;
    END IF;
    FOR entry IN SELECT value FROM pg_catalog.jsonb_array_elements(entries) LOOP
        head_seq := head_seq + 1;
        node := pg_catalog.sha256('\x01'::bytea || head_hash || pg_catalog.sha256(
            '\x00'::bytea || pg_catalog.convert_to(pg_catalog.concat_ws(E'\x1f',
                head_seq::text,
                pg_catalog.to_char(stamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
                COALESCE(entry->>'actor_kind', ''), COALESCE(entry->>'actor', ''),
                COALESCE(entry->>'role', ''), COALESCE(entry->>'terminal_id', ''),
                COALESCE(entry->>'action', ''), COALESCE(entry->>'subject_type', ''),
                COALESCE(entry->>'subject_id', ''), COALESCE(entry->>'citizen_id', ''),
                COALESCE(entry->>'purpose', ''), COALESCE(entry->>'outcome', ''),
                entry->>'details_digest'), 'UTF8')));
        INSERT INTO audit_records (seq, at, actor_kind, actor, role, terminal_id, action,
                                   subject_type, subject_id, citizen_id, purpose, outcome,
                                   details, details_digest, prev_hash, hash)
        VALUES (head_seq, stamp, entry->>'actor_kind', entry->>'actor', entry->>'role',
                entry->>'terminal_id', entry->>'action', entry->>'subject_type',
                entry->>'subject_id', (entry->>'citizen_id')::bigint, entry->>'purpose',
                entry->>'outcome', entry->>'details',
                pg_catalog.decode(entry->>'details_digest', 'hex'), head_hash, node);
        head_hash := node;
    END LOOP;
    RETURN head_seq;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("terminal_id", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=True),
        sa.Column("subject_id", sa.Text(), nullable=True),
        sa.Column("citizen_id", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("details_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_records"),
        sa.UniqueConstraint("hash", name="uq_audit_records_hash"),
    )
    op.create_index("ix_audit_records_citizen_id_seq", "audit_records", ["citizen_id", "seq"])
    op.create_index("ix_audit_records_at", "audit_records", ["at"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("head", sa.LargeBinary(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_index("ix_audit_checkpoints_size", "audit_checkpoints", ["size"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    op.execute(PG_APPEND)
    op.execute(PG_FUNCTION)
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()")


def _sqlite_triggers() -> None:
    for table in TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'audit table {table}: {action} refused, "
                       "the log is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")
        op.execute("DROP FUNCTION IF EXISTS audit_append(jsonb, timestamptz)")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_records")
