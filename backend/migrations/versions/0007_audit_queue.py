"""audit queue (PostgreSQL): records commit with their change, the sequencer chains them.

Until now every audited transaction held the chain's lock through its own COMMIT,
so appends ran one WAL flush at a time (bench/bench_audit.py: ~700 records/s at one
record per transaction). Now a transaction only inserts its records into
`audit_queue` (`audit_enqueue()`), with its change and without any lock;
`audit_sequence()` then moves queued rows into the chain, in queue order, under the
chain's lock, many transactions' records per flush. `audit_append()` (records chained
at once, inside the caller's transaction, for callers that cannot commit first) is
now the two steps under the lock, so the chain has one definition in SQL.

Revision ID: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Typed on the way in, so a record the chain could not hold fails its own transaction
# instead of blocking the queue. PL/pgSQL keeps the INSERT's plan between calls.
PG_ENQUEUE = r"""
CREATE OR REPLACE FUNCTION audit_enqueue(entries jsonb, at_hint timestamptz DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_queue (at, actor_kind, actor, role, terminal_id, action, subject_type,
                             subject_id, citizen_id, purpose, outcome, details, details_digest)
    SELECT COALESCE(at_hint, pg_catalog.clock_timestamp()), e.actor_kind, e.actor, e.role,
           e.terminal_id, e.action, e.subject_type, e.subject_id, e.citizen_id, e.purpose,
           e.outcome, e.details, pg_catalog.decode(e.details_digest, 'hex')
    FROM ROWS FROM (pg_catalog.jsonb_to_recordset(entries) AS (
        actor_kind text, actor text, role text, terminal_id text, action text,
        subject_type text, subject_id text, citizen_id bigint, purpose text, outcome text,
        details text, details_digest text)) WITH ORDINALITY AS e(
        actor_kind, actor, role, terminal_id, action, subject_type, subject_id, citizen_id,
        purpose, outcome, details, details_digest, n)
    ORDER BY e.n;
END;
$$
"""

# Chain what is queued, oldest first, a batch of queue rows per statement until a
# batch comes back short (each DELETE sees what committed since the last). The caller
# holds the chain's lock. The canonical text is chain.py's, spelled in SQL; the verifier
# recomputes it in Python.
PG_CHAIN_QUEUED = r"""
CREATE OR REPLACE FUNCTION audit_chain_queued(OUT first_seq bigint, OUT last_seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
    q record;
    head_hash bytea;
    head_at timestamptz;
    stamp timestamptz;
    node bytea;
    taken integer;
BEGIN
    SELECT r.seq, r.hash, r.at INTO last_seq, head_hash, head_at
        FROM audit_records r ORDER BY r.seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        last_seq := 0;
        head_hash := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
    END IF;
    first_seq := last_seq + 1;
    LOOP
        taken := 0;
        FOR q IN
            WITH batch AS (
                DELETE FROM audit_queue d WHERE d.id IN (
                    SELECT id FROM audit_queue ORDER BY id LIMIT 1000)
                RETURNING d.*)
            SELECT * FROM batch ORDER BY id
        LOOP
            stamp := q.at;
            IF head_at IS NOT NULL AND head_at > stamp THEN
                stamp := head_at;  -- time never runs backwards along the chain
            END IF;
            last_seq := last_seq + 1;
            node := pg_catalog.sha256('\x01'::bytea || head_hash || pg_catalog.sha256(
                '\x00'::bytea || pg_catalog.convert_to(pg_catalog.concat_ws(E'\x1f',
                    last_seq::text,
                    pg_catalog.to_char(stamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
                    COALESCE(q.actor_kind, ''), COALESCE(q.actor, ''), COALESCE(q.role, ''),
                    COALESCE(q.terminal_id, ''), COALESCE(q.action, ''),
                    COALESCE(q.subject_type, ''), COALESCE(q.subject_id, ''),
                    COALESCE(q.citizen_id::text, ''), COALESCE(q.purpose, ''),
                    COALESCE(q.outcome, ''), pg_catalog.encode(q.details_digest, 'hex')),
                    'UTF8')));
            INSERT INTO audit_records (seq, at, actor_kind, actor, role, terminal_id, action,
                                       subject_type, subject_id, citizen_id, purpose, outcome,
                                       details, details_digest, prev_hash, hash)
            VALUES (last_seq, stamp, q.actor_kind, q.actor, q.role, q.terminal_id, q.action,
                    q.subject_type, q.subject_id, q.citizen_id, q.purpose, q.outcome,
                    q.details, q.details_digest, head_hash, node);
            head_hash := node;
            head_at := stamp;
            taken := taken + 1;
        END LOOP;
        EXIT WHEN taken < 1000;
    END LOOP;
END;
$$
"""

# Take the lock and chain the queue. `wait` false is a writer's try right after its
# own COMMIT: NULLs at once when another session holds the lock (it is sequencing, and
# its next batch takes ours), and a failure is a warning, never an error, because the
# writer's transaction has already committed. SECURITY DEFINER: only the owner may
# delete from the queue.
PG_SEQUENCE = r"""
CREATE OR REPLACE FUNCTION audit_sequence(wait boolean DEFAULT true,
                                          OUT first_seq bigint, OUT last_seq bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
BEGIN
    IF wait THEN
        PERFORM pg_catalog.pg_advisory_xact_lock(5999168903779271764);
        SELECT c.first_seq, c.last_seq INTO first_seq, last_seq FROM audit_chain_queued() c;
        RETURN;
    END IF;
    IF NOT pg_catalog.pg_try_advisory_xact_lock(5999168903779271764) THEN
        RETURN;
    END IF;
    BEGIN
        SELECT c.first_seq, c.last_seq INTO first_seq, last_seq FROM audit_chain_queued() c;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'audit records stay queued until the next sequencing: %', SQLERRM;
        first_seq := NULL;
        last_seq := NULL;
    END;
END;
$$
"""

# Chained at once, inside the caller's transaction (which holds the lock until it ends);
# the range returned covers these entries and any queued before them.
PG_APPEND = r"""
CREATE FUNCTION audit_append(entries jsonb, at_hint timestamptz DEFAULT NULL,
                             OUT first_seq bigint, OUT last_seq bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(5999168903779271764);
    PERFORM audit_enqueue(entries, at_hint);
    SELECT s.first_seq, s.last_seq INTO first_seq, last_seq FROM audit_sequence(true) s;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has one writer at a time: records are chained before its commit
    op.create_table(
        "audit_queue",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
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
        sa.Column("details_digest", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_queue"),
    )
    # Every row is deleted soon after it is inserted: vacuum often, so the sequencer's
    # index scan does not wade through dead rows.
    op.execute("ALTER TABLE audit_queue SET (autovacuum_vacuum_scale_factor = 0, "
               "autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0)")
    for trigger, when in (("no_update", "BEFORE UPDATE ON audit_queue FOR EACH ROW"),
                          ("no_truncate", "BEFORE TRUNCATE ON audit_queue FOR EACH STATEMENT")):
        op.execute(f"CREATE TRIGGER audit_queue_{trigger} {when} "
                   "EXECUTE FUNCTION audit_refuse_change()")
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    op.execute(PG_ENQUEUE)
    op.execute(PG_CHAIN_QUEUED)
    op.execute(PG_SEQUENCE.replace("{schema}", f'"{schema}"'))
    op.execute("DROP FUNCTION audit_append(jsonb, timestamptz)")
    op.execute(PG_APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from importlib import import_module

    # audit_append as migration 0003 made it, before the queue
    op.execute("DROP FUNCTION audit_append(jsonb, timestamptz)")
    op.execute(import_module("backend.migrations.versions.0003_audit").PG_APPEND)
    op.execute("DROP FUNCTION IF EXISTS audit_sequence(boolean)")
    op.execute("DROP FUNCTION IF EXISTS audit_chain_queued()")
    op.execute("DROP FUNCTION IF EXISTS audit_enqueue(jsonb, timestamptz)")
    op.drop_table("audit_queue")
