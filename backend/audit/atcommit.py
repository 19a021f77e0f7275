"""On PostgreSQL the append rides on the COMMIT: one round trip for both.

Measured with 50 writers: once the append was a single call (append.py), the lock
holder still sat "idle in transaction" between that call and its COMMIT, waiting for
its own client to be scheduled, while 48 writers waited on the lock. So when a
session commits its connection's own transaction, its records are stashed on the
connection and, at the connection's commit, `audit_append(...)` and `COMMIT` are sent
together in a psycopg pipeline: the database takes the lock, appends, commits and
releases the lock without waiting for the client at all. Atomicity is unchanged: the
append and the caller's changes are one transaction, and a failed append fails the
commit. Sessions joined to an outer transaction, SQLite, and databases without the
function append before the commit instead (record.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from backend.audit.append import appends_in_database, as_json

STASH = "satukartu.audit.stash"
_STATEMENT = "SELECT audit_append(%s::jsonb, NULL)"


def stash(conn: Connection, entries: list[Mapping[str, Any]]) -> bool:
    """Keep `entries` for this connection's commit; False when that cannot be done."""
    if (not appends_in_database(conn) or conn.in_nested_transaction()
            or not conn.in_transaction()):
        return False
    root = conn.get_transaction()
    kept = conn.info.get(STASH)
    if kept is not None and kept[0] is root:
        kept[1].extend(entries)
    else:
        conn.info[STASH] = (root, list(entries))
    return True


@event.listens_for(Engine, "commit")
def _append_with_commit(conn: Connection) -> None:
    kept = conn.info.pop(STASH, None)
    if kept is None or kept[0] is not conn.get_transaction():
        return  # nothing stashed, or left over from a transaction that is gone
    entries = kept[1]
    payload = json.dumps([as_json(entry) for entry in entries], ensure_ascii=False)
    raw = conn.connection.driver_connection
    try:
        with raw.pipeline():
            cursor = raw.execute(_STATEMENT, (payload,))
            raw.commit()
        last = cursor.fetchone()[0]
    except psycopg.Error as exc:
        raise DBAPIError.instance(_STATEMENT, (payload,), exc, psycopg.Error,
                                  dialect=conn.dialect) from exc
    from backend.audit.tasks import checkpoint_if_due

    checkpoint_if_due(None, last - len(entries) + 1, last)  # committed already


@event.listens_for(Engine, "rollback")
def _drop_stash(conn: Connection) -> None:
    if conn.invalidated or conn.closed:
        return  # the connection is gone, and its stash with it
    conn.info.pop(STASH, None)
