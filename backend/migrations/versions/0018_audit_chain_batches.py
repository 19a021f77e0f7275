"""audit (PostgreSQL): the sequencer takes the queue by its index and chains a batch in one INSERT.

Two costs of `audit_chain_queued()` (migration 0007) grew with the traffic, both seen
in a profile of the database during `bench/bench_auth.py` and measured by the
sequencer's own CPU per call:

- The queue is emptied as fast as it fills, so it holds few live rows and many dead
  ones until it is vacuumed. The plan PL/pgSQL keeps for the batch's DELETE was made
  while the table looked small: a sequential scan of the whole heap (the dead rows'
  pages and their visibility checks) on every call, the queue's ordered index used only
  to pick the ids. The function now runs with `enable_seqscan = off`, so both the pick
  and the delete walk `pk_audit_queue`, whose dead entries are skipped once marked.
- Each record was one INSERT into the partitioned chain: an executor started, the
  partition routed and its three indexes opened for one row. The loop now computes the
  batch's hashes into arrays (the chain is sequential: each hash needs the one before)
  and one INSERT writes the batch. The DELETE returns whole rows of the queue's type,
  so the batch is an array of them, with no conversion on the way.

The chain's definition is unchanged: the same canonical text, the same hashes, the
same order and times, checked by the same verifier. Measured with one connection
enqueueing eleven records and sequencing them, 600 times over a fresh queue: 900-1,120
us of the database's CPU per call before, 600-720 us after.

Revision ID: 0018
"""
from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

PG_CHAIN_QUEUED = r"""
CREATE OR REPLACE FUNCTION audit_chain_queued(OUT first_seq bigint, OUT last_seq bigint)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    batch audit_queue[];
    q audit_queue;
    head_hash bytea;
    head_at timestamptz;
    stamp timestamptz;
    n integer;
    stamps timestamptz[];
    hashes bytea[];
BEGIN
    SELECT r.seq, r.hash, r.at INTO last_seq, head_hash, head_at
        FROM audit_records r ORDER BY r.seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        last_seq := 0;
        head_hash := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
    END IF;
    first_seq := last_seq + 1;
    LOOP
        WITH taken AS (
            DELETE FROM audit_queue d WHERE d.id = ANY (ARRAY(
                SELECT id FROM audit_queue ORDER BY id LIMIT 1000))
            RETURNING d AS row)
        SELECT pg_catalog.array_agg(t.row ORDER BY (t.row).id) INTO batch FROM taken t;
        EXIT WHEN batch IS NULL;
        n := 0;
        hashes := ARRAY[head_hash];  -- hashes[i] is record i's prev_hash, hashes[i + 1] its hash
        stamps := '{}';
        FOREACH q IN ARRAY batch LOOP
            stamp := q.at;
            IF head_at IS NOT NULL AND head_at > stamp THEN
                stamp := head_at;  -- time never runs backwards along the chain
            END IF;
            n := n + 1;
            head_hash := pg_catalog.sha256('\x01'::bytea || head_hash || pg_catalog.sha256(
                '\x00'::bytea || pg_catalog.convert_to(pg_catalog.concat_ws(E'\x1f',
                    (last_seq + n)::text,
                    pg_catalog.to_char(stamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
                    COALESCE(q.actor_kind, ''), COALESCE(q.actor, ''), COALESCE(q.role, ''),
                    COALESCE(q.terminal_id, ''), COALESCE(q.action, ''),
                    COALESCE(q.subject_type, ''), COALESCE(q.subject_id, ''),
                    COALESCE(q.citizen_id::text, ''), COALESCE(q.purpose, ''),
                    COALESCE(q.outcome, ''), pg_catalog.encode(q.details_digest, 'hex')),
                    'UTF8')));
            hashes[n + 1] := head_hash;
            stamps[n] := stamp;
            head_at := stamp;
        END LOOP;
        INSERT INTO audit_records (seq, at, actor_kind, actor, role, terminal_id, action,
                                   subject_type, subject_id, citizen_id, purpose, outcome,
                                   details, details_digest, prev_hash, hash)
        SELECT last_seq + b.i, stamps[b.i], b.actor_kind, b.actor, b.role, b.terminal_id,
               b.action, b.subject_type, b.subject_id, b.citizen_id, b.purpose, b.outcome,
               b.details, b.details_digest, hashes[b.i], hashes[b.i + 1]
        FROM pg_catalog.unnest(batch) WITH ORDINALITY AS b(id, at, actor_kind, actor, role,
            terminal_id, action, subject_type, subject_id, citizen_id, purpose, outcome,
            details, details_digest, i);
        last_seq := last_seq + n;
        EXIT WHEN n < 1000;
    END LOOP;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(PG_CHAIN_QUEUED)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # CREATE OR REPLACE replaces the function's settings too: 0007's has none.
    op.execute(import_module("backend.migrations.versions.0007_audit_queue").PG_CHAIN_QUEUED)
