"""Serialised appends: the one place records join the chain.

Whoever appends holds the chain's lock from reading the head until its transaction
ends, so the sequence number and previous hash it reads are still the head when it
commits: 50 concurrent writers make one gap-free, unforked chain. On PostgreSQL the
lock is a transaction-level advisory lock; on SQLite it is the database's write lock,
taken by a write that changes nothing before the head is read. The primary key on
`seq` and the unique `hash` are the backstop should anything bypass the lock.

Holding the lock until the transaction ends caps the chain at one commit at a time,
so transactions that commit on their own connection go through the queue on
PostgreSQL instead (sequencer.py). What appends here: SQLite (one writer at a time
anyway), sessions inside an outer transaction, and Connection callers. On PostgreSQL
the whole append is one call of `audit_append` (lock, head, hashes, insert inside the
database, so no client scheduling delay sits inside the lock); SQLite runs the same
steps as Core statements from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, text
from sqlalchemy.exc import OperationalError

from backend.audit.chain import ZERO_HASH, canonical_text, leaf_hash, next_head
from backend.audit.models import AuditRecord
from backend.db import begin_again_as_writer, sqlite_busy

LOCK_KEY = 0x5341545541554454  # "SATUAUDT": the chain's advisory lock (migration 0007)
_TABLE = AuditRecord.__table__
_HEAD = select(_TABLE.c.seq, _TABLE.c.hash, _TABLE.c.at).order_by(_TABLE.c.seq.desc()).limit(1)
_INSERT = insert(_TABLE)
_PG_APPEND = text("SELECT first_seq, last_seq FROM audit_append(CAST(:entries AS jsonb), :at)")
_LOCK = text("DELETE FROM audit_records WHERE 0")


def lock_chain(conn: Connection) -> None:
    """Take SQLite's single write lock (waiting up to busy_timeout) for the rest of this
    transaction: a write that changes nothing and fires no row trigger.

    A deferred transaction that read first (a GET that records the read of personal
    data) is refused at once if another connection wrote since its first read, however
    long busy_timeout is. Having written nothing (or it would hold the lock already), it
    begins again as a writer: the records describe what it read, and the head is read
    after the lock is taken, so they are chained as if written just now.
    """
    try:
        conn.execute(_LOCK)
    except OperationalError as error:
        if not sqlite_busy(error) or conn.in_nested_transaction():
            raise
        begin_again_as_writer(conn)
        conn.execute(_LOCK)


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

    Returns (first seq, last seq) of what was chained: on PostgreSQL that can include
    records other transactions had queued just before. The caller's transaction must
    commit for them to exist; until it ends, other appenders wait. `at` is for imports
    and tests; the time never runs backwards along the chain.
    """
    entries = list(entries)
    if conn.dialect.name == "postgresql":
        payload = json.dumps([as_json(entry) for entry in entries], ensure_ascii=False)
        first, last = conn.execute(_PG_APPEND, {"entries": payload, "at": at}).one()
        return first, last
    return _append_here(conn, entries, at)


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
