"""Serialised appends: the one place records join the chain.

Whoever appends holds the chain's lock from reading the head until its transaction
ends, so the sequence number and previous hash it reads are still the head when it
commits: 50 concurrent writers make one gap-free, unforked chain. On PostgreSQL the
lock is a transaction-level advisory lock; on SQLite it is the database's write lock,
taken by a write that changes nothing before the head is read. The primary key on
`seq` and the unique `hash` are the backstop should anything bypass the lock.

The time the lock is held is the chain's throughput (bench/bench_audit.py). With 50
writers, pg_stat_activity showed the holder "idle in transaction", waiting for its
own client to be scheduled between the lock, head and insert statements. So on
PostgreSQL the whole append is one call of `audit_append` (migration 0003), which
takes the lock, reads the head, hashes and inserts inside the database; the holder
then only waits for its COMMIT, which atcommit.py sends in the same round trip.
SQLite, and a PostgreSQL database migrated before that function existed, use the
same steps as Core statements from here.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text

from backend.audit.chain import ZERO_HASH, canonical_text, leaf_hash, next_head
from backend.audit.models import AuditRecord

LOCK_KEY = 0x5341545541554454  # "SATUAUDT": the chain's advisory lock on PostgreSQL
_TABLE = AuditRecord.__table__
_HEAD = select(_TABLE.c.seq, _TABLE.c.hash, _TABLE.c.at).order_by(_TABLE.c.seq.desc()).limit(1)
_INSERT = insert(_TABLE)
_PG_APPEND = text("SELECT audit_append(CAST(:entries AS jsonb), :at)")
_PG_HAS_APPEND = text("SELECT to_regprocedure('audit_append(jsonb, timestamptz)') IS NOT NULL")
_in_database: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def lock_chain(conn: Connection) -> None:
    """Take the chain's lock for the rest of this transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    else:
        # Any write takes SQLite's single write lock (waiting up to busy_timeout);
        # this one changes nothing and fires no row trigger.
        conn.execute(text("DELETE FROM audit_records WHERE 0"))


def head(conn: Connection) -> tuple[int, bytes, datetime | None]:
    """(size, head hash, time of the last record) as this transaction sees them."""
    row = conn.execute(_HEAD).first()
    if row is None:
        return 0, ZERO_HASH, None
    at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
    return row.seq, row.hash, at


def append(conn: Connection, entries: Iterable[Mapping[str, Any]],
           at: datetime | None = None) -> tuple[int, int]:
    """Chain `entries` (record fields without seq, at and hashes) onto the log.

    Returns (first seq, last seq). The caller's transaction must commit for them to
    exist; until it ends, other appenders wait. `at` is for imports and tests; the
    time never runs backwards along the chain.
    """
    entries = list(entries)
    if appends_in_database(conn):
        payload = json.dumps([as_json(entry) for entry in entries], ensure_ascii=False)
        last = conn.execute(_PG_APPEND, {"entries": payload, "at": at}).scalar_one()
        return last - len(entries) + 1, last
    return _append_here(conn, entries, at)


def appends_in_database(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    found = _in_database.get(conn.engine)
    if found is None:
        found = _in_database[conn.engine] = bool(conn.execute(_PG_HAS_APPEND).scalar())
    return found


def as_json(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value.hex() if isinstance(value, bytes) else value
            for key, value in entry.items()}


def _append_here(conn: Connection, entries: list[Mapping[str, Any]],
                 at: datetime | None) -> tuple[int, int]:
    lock_chain(conn)
    seq, prev, last_at = head(conn)
    now = at or datetime.now(UTC)
    at = now if last_at is None or now >= last_at else last_at  # time never runs back
    first = seq + 1
    rows = []
    for entry in entries:
        seq += 1
        row = dict(entry)
        row["seq"] = seq
        row["at"] = at
        row["hash"] = next_head(prev, leaf_hash(canonical_text(row)))
        row["prev_hash"] = prev
        prev = row["hash"]
        rows.append(row)
    if rows:
        conn.execute(_INSERT, rows)
    return first, seq
