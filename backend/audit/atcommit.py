"""On PostgreSQL the records ride on the COMMIT: one round trip for both.

When a session commits its connection's own transaction, its records are stashed on
the connection and, at the connection's commit, sent together with the `COMMIT` in a
single query string: inserted into `audit_queue`, taking no lock (sequencer.py), so
concurrent writers' commits overlap instead of queueing for the chain. Atomicity is
unchanged: the records and the caller's changes are one transaction, and a failed
insert fails the commit. The process's sequencer thread then chains them, batched
with other commits' records, off the request path (background.py).

Sessions joined to an outer transaction, SQLite, and databases without the queue
chain their records before the commit instead (record.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from backend.audit.append import as_json
from backend.audit.background import nudge
from backend.audit.sequencer import ENQUEUE, queues_in_database
from backend.db import driver_connection

STASH = "satukartu.audit.stash"
_STATEMENTS = f"{ENQUEUE}; COMMIT"


def stash(conn: Connection, entries: list[Mapping[str, Any]]) -> bool:
    """Keep `entries` for this connection's commit; False when that cannot be done."""
    if (not queues_in_database(conn) or conn.in_nested_transaction()
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
def _queue_with_commit(conn: Connection) -> None:
    kept = conn.info.pop(STASH, None)
    if kept is None or kept[0] is not conn.get_transaction():
        return  # nothing stashed, or left over from a transaction that is gone
    payload = json.dumps([as_json(entry) for entry in kept[1]], ensure_ascii=False)
    _send(conn, payload)
    nudge(conn.engine)


def _send(conn: Connection, payload: str) -> None:
    """Queue and COMMIT: two statements in one simple query.

    One query string, bound on the client, is one round trip and one blocking wait
    (in psycopg's pipeline mode, which this replaced, a profile showed the writer
    stepping its socket loop ~8 times per round trip while it waited). An error here
    means the caller's transaction did not commit.
    """
    raw = driver_connection(conn)
    cursor = psycopg.ClientCursor(raw)
    try:
        cursor.execute(_STATEMENTS, (payload,))
    except psycopg.Error as exc:
        raise DBAPIError.instance(ENQUEUE, (payload,), exc, psycopg.Error,
                                  dialect=conn.dialect) from exc
    cursor.nextset()
    if cursor.statusmessage != "COMMIT":  # "ROLLBACK": the transaction had already failed
        raise DBAPIError.instance(ENQUEUE, (payload,), RuntimeError("not committed"),
                                  psycopg.Error, dialect=conn.dialect)


@event.listens_for(Engine, "rollback")
def _drop_stash(conn: Connection) -> None:
    if conn.invalidated or conn.closed:
        return  # the connection is gone, and its stash with it
    conn.info.pop(STASH, None)
