"""Where the audit log's readers read: the primary, or a streaming replica that has caught up.

The primary is the part every hub shares (SCALING.md), and the log's readers (a
citizen's access log, the auditors' search, export and verification) read much and
write one record of their own. With `SATUKARTU_DATABASE_REPLICA_URL` set they read on
the replica, and only once it shows what they must: the queue is first chained on the
primary (`settle`, which writes, so it runs there), then the primary's WAL position is
taken and the replica is waited for until it has replayed past it. Every record
committed before the request is then on the replica, in the chain.

A replica that does not catch up within `DATABASE_REPLICA_WAIT_MS`, or cannot be
reached, is passed over for that request: the primary answers, as without a replica,
and `satukartu_audit_reads_total{served_by}` counts which did. The reader's own audit
record goes to the primary's request transaction either way.
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from prometheus_client import Counter
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from backend.audit.sequencer import settle
from backend.db import database, drop_replica_connection, replica_connection, session

log = logging.getLogger(__name__)

READS = Counter("satukartu_audit_reads", "Requests reading the audit log, by what served "
                "them: primary (no replica), replica, or the primary when the replica was "
                "lagging (not caught up in time), unreachable, or not_replica (not in "
                "recovery).",
                ["served_by"], registry=None)

_POSITION = text("SELECT pg_current_wal_lsn()")
_REPLAYED = text("SELECT pg_is_in_recovery(), "
                 "coalesce(pg_last_wal_replay_lsn() >= CAST(:position AS pg_lsn), false)")
POLL_SECONDS = 0.002


def chained_connection() -> Connection:
    """A connection that sees every audit record committed before this request, chained."""
    db = database()
    settle(db.engine)
    primary = session().connection()
    if db.replica is None:
        READS.labels("primary").inc()
        return primary
    position = primary.execute(_POSITION).scalar_one()
    try:
        replica = replica_connection()
        served_by = _wait(replica, position, current_app.config["DATABASE_REPLICA_WAIT_MS"])
    except DBAPIError:
        log.warning("the database replica failed; the primary reads instead", exc_info=True)
        drop_replica_connection()
        served_by = "unreachable"
    READS.labels(served_by).inc()
    return replica if served_by == "replica" else primary


def _wait(replica: Connection, position: str, wait_ms: int) -> str:
    """`replica` once it has replayed past `position`, `lagging` if not within `wait_ms`;
    `not_replica` for a server not in recovery (a promoted one, a wrong URL)."""
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        recovering, replayed = replica.execute(_REPLAYED, {"position": position}).one()
        if not recovering:
            log.error("SATUKARTU_DATABASE_REPLICA_URL names a server that is not a replica "
                      "(not in recovery); the primary reads instead")
            return "not_replica"
        if replayed:
            return "replica"
        if time.monotonic() >= deadline:
            return "lagging"
        time.sleep(POLL_SECONDS)
