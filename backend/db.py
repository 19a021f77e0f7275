"""Engines, the declarative base and the request's session.

A request is one transaction: views use `session()`, and the hub commits once at the
boundary (see backend.app) or rolls back on any refusal. Nothing below commits.
Checks that run before the view (who is calling) read with `read_row()`, outside that
transaction while it has not begun, so a request that writes nothing (a card
challenge) costs one round trip instead of BEGIN, the read and COMMIT.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import current_app, g
from sqlalchemy import MetaData, create_engine, event, exc
from sqlalchemy.engine import URL, Connection, Engine, Row, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Executable

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def normalize_url(url: str) -> URL:
    """Take a URL as a user writes it and pick the driver the hub ships with."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


# A pooled connection back in use within this many seconds is used without a ping.
IDLE_PING_SECONDS = 10.0
# Replace connections older than this, before a server or a firewall drops them idle.
POOL_RECYCLE_SECONDS = 1800
_CHECKED_IN = "satukartu.checked_in"


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    engine = create_engine(parsed, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping only a connection that sat in the pool, instead of at every checkout.

    `pool_pre_ping` costs a round trip on every request (~160 us of the hub's CPU
    and the database's, bench/bench_auth.py). A connection handed back and out within
    seconds is busy and almost surely alive; one that sat idle (a quiet hub, a Celery
    worker between tasks) is pinged as before. A connection that died under load
    (a database restart) fails its statement instead: SQLAlchemy then invalidates
    every pooled connection older than the failure, and the request answers 503
    `service_unavailable` with Retry-After (backend.errors), which clients retry
    (tests/reliability/faults/test_database_restart.py).
    """
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return  # a fresh connection, or one just handed back
        try:
            engine.dialect.do_ping(dbapi)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError(f"idle connection failed its ping: {error}") from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, issue BEGIN, so SAVEPOINTs and rollbacks are real.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


class Database:
    """The app's engine and session factory (tests swap the factory for a savepoint one)."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def reads_outside_transactions(self) -> bool:
        """PostgreSQL with sessions on the engine. Tests bind sessions to one outer
        transaction instead, and on SQLite BEGIN is ours (see `_sqlite_begin`): there
        every read stays in the request's transaction."""
        return self.dialect == "postgresql" and self.sessions.kw.get("bind") is self.engine

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work outside a request (CLI, tasks): commit on success."""
        with self.sessions() as sess, sess.begin():
            yield sess


def database() -> Database:
    return current_app.extensions["satukartu.db"]


def session() -> Session:
    """The current request's session, opened on first use."""
    if "db_session" not in g:
        db = database()
        if db.reads_outside_transactions:
            g.db_session = db.sessions(bind=_request_connection(db))
        else:
            g.db_session = db.sessions()
    return g.db_session


def opened_session() -> Session | None:
    """The request's session if something opened it, else None (nothing to commit)."""
    return g.get("db_session")


def read_row(statement: Executable, params: Mapping[str, Any]) -> Row | None:
    """The first row of a read that needs no transaction of its own.

    Before the request's session is opened, the read runs alone in autocommit on the
    connection the session will then use: no BEGIN, no COMMIT. After, it joins the
    request's transaction, as every read did before.
    """
    db = database()
    if "db_session" in g or not db.reads_outside_transactions:
        return session().connection().execute(statement, params).first()
    conn = _request_connection(db)
    raw = conn.connection.driver_connection
    # psycopg's flag, not SQLAlchemy's isolation option: switching it sends nothing
    # and costs nothing, where the option costs ~35 us a request (set, then reset at
    # check-in). It is off again before anything else runs on the connection.
    raw.autocommit = True
    try:
        row = conn.execute(statement, params).first()
    finally:
        if not conn.invalidated:
            raw.autocommit = False
    conn.commit()  # SQLAlchemy's bookkeeping: nothing was begun on the wire
    return row


def close_request_connection() -> None:
    """Give the request's connection back to the pool (the app's teardown)."""
    conn = g.pop("db_connection", None)
    if conn is not None:
        conn.close()


def _request_connection(db: Database) -> Connection:
    """The one pooled connection of this request, shared by `read_row` and the session."""
    conn = g.get("db_connection")
    if conn is None:
        conn = g.db_connection = db.engine.connect()
    return conn
