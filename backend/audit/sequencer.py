"""PostgreSQL: records are queued with their change, then chained by the sequencer.

Holding the chain's lock through each transaction's COMMIT made the chain one WAL
flush at a time (~1,400 commits/s at best here, ~700 audited transactions/s with 50
writers). So a transaction that commits on its own connection inserts its records
into `audit_queue` (migration 0007) in the same round trip as its COMMIT, taking no
lock: the change and its records are still one transaction. Then its process's
sequencer thread (background.py) calls `audit_sequence(false)`: if nobody holds the
chain's lock it chains everything queued, oldest first, many transactions' records
per flush; if someone does, it tries again shortly.

`settle()` runs before the log is read (access log, listings, exports, verification)
and before every checkpoint, so a reader never sees the chain behind a commit that
came before its request, whatever the sequencer threads are doing.
"""

from __future__ import annotations

import logging
import weakref
from datetime import datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

QUEUE_TABLE = "audit_queue"
ENQUEUE = "SELECT audit_enqueue(%s::jsonb)"
TRY_SEQUENCE = "SELECT first_seq, last_seq FROM audit_sequence(false)"
_SEQUENCE = text("SELECT first_seq, last_seq FROM audit_sequence(:wait)")
_HAS_QUEUE = text("SELECT to_regprocedure('audit_sequence(boolean)') IS NOT NULL")
_ANY_QUEUED = text("SELECT EXISTS (SELECT 1 FROM audit_queue)")
_QUEUED = text("SELECT count(*) FROM audit_queue")
_STALE = text("SELECT count(*), min(at) FROM audit_queue "
              "WHERE at < clock_timestamp() - make_interval(secs => :seconds)")
_queues: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def queues_in_database(conn: Connection) -> bool:
    """Whether this database takes records through the queue (PostgreSQL, migrated)."""
    if conn.dialect.name != "postgresql":
        return False
    found = _queues.get(conn.engine)
    if found is None:
        found = _queues[conn.engine] = bool(conn.execute(_HAS_QUEUE).scalar())
    return found


def engine_queues(engine: Engine) -> bool:
    """`queues_in_database` for an engine, asked on a connection of its own only the
    first time (a caller that has none open yet: `authenticate_alone`)."""
    found = _queues.get(engine)
    if found is None:
        with engine.connect() as conn:
            found = queues_in_database(conn)
    return found


def settle(engine: Engine, *, lock_timeout_ms: int = 2000) -> tuple[int, int] | None:
    """Chain whatever is queued now, waiting for the lock (at most `lock_timeout_ms`).

    Readers call this first so that a record committed before their request is in the
    chain they read. Returns (first, last) sequence numbers chained, or None.
    """
    if engine.dialect.name != "postgresql":
        return None
    try:
        with engine.begin() as conn:
            if not queues_in_database(conn) or not conn.execute(_ANY_QUEUED).scalar():
                return None
            conn.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
            first, last = conn.execute(_SEQUENCE, {"wait": True}).one()
    except (OperationalError, DBAPIError):
        log.warning("could not sequence the audit queue now", exc_info=True)
        return None
    return (first, last) if first is not None and first <= last else None


def queued(conn: Connection) -> int:
    """Records waiting in the queue now (0 where records are chained at commit): the
    metric an operator watches, since a queue that grows means the sequencer is stuck."""
    if not queues_in_database(conn):
        return 0
    return int(conn.execute(_QUEUED).scalar() or 0)


def stale_queue(conn: Connection, seconds: int) -> tuple[int, datetime | None]:
    """(records queued more than `seconds` ago, the oldest one's time) as `conn` sees them."""
    if not queues_in_database(conn):
        return 0, None
    count, oldest = conn.execute(_STALE, {"seconds": seconds}).one()
    return int(count), oldest
