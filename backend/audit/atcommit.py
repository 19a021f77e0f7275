"""On PostgreSQL the records ride on the COMMIT: one round trip for both.

When a session commits its connection's own transaction, its records are stashed on
the connection and, at the connection's commit, sent together with the `COMMIT` in a
psycopg pipeline: inserted into `audit_queue`, taking no lock (sequencer.py), so
concurrent writers' commits overlap instead of queueing for the chain. Atomicity is
unchanged: the records and the caller's changes are one transaction, and a failed
insert fails the commit. The sequencer is tried in the same round trip.

Sessions joined to an outer transaction, SQLite, and databases without the queue
chain their records before the commit instead (record.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from backend.audit.append import as_json
from backend.audit.sequencer import ENQUEUE, TRY_SEQUENCE, queues_in_database

log = logging.getLogger(__name__)
STASH = "satukartu.audit.stash"


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
    chained = _send(conn, payload)
    if chained is not None:
        from backend.audit.tasks import checkpoint_if_due

        checkpoint_if_due(None, *chained)  # committed already


def _send(conn: Connection, payload: str) -> tuple[int, int] | None:
    """Queue, COMMIT and try the sequencer in one pipeline, one round trip.

    The `COMMIT` is sent as a statement so that the sequencer's call after it runs in
    the protocol's implicit transaction, which ends at the pipeline's Sync: no second
    round trip to commit it. The caller's transaction committed if and only if that
    statement says so; the sequencer failing afterwards is logged, never raised.
    """
    raw = conn.connection.driver_connection
    committed = nudge = None
    try:
        with raw.pipeline():
            raw.execute(ENQUEUE, (payload,))
            committed = raw.execute("COMMIT")
            nudge = raw.execute(TRY_SEQUENCE)
    except psycopg.Error as exc:
        if committed is None or committed.statusmessage != "COMMIT":
            raise DBAPIError.instance(ENQUEUE, (payload,), exc, psycopg.Error,
                                      dialect=conn.dialect) from exc
        log.warning("audit records stay queued until the next sequencing", exc_info=True)
        return None
    if committed.statusmessage != "COMMIT":  # e.g. "ROLLBACK": the transaction had failed
        raise DBAPIError.instance(ENQUEUE, (payload,), RuntimeError("not committed"),
                                  psycopg.Error, dialect=conn.dialect)
    first, last = nudge.fetchone()
    return None if first is None or first > last else (first, last)


@event.listens_for(Engine, "rollback")
def _drop_stash(conn: Connection) -> None:
    if conn.invalidated or conn.closed:
        return  # the connection is gone, and its stash with it
    conn.info.pop(STASH, None)
