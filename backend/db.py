"""Engines, the declarative base and the request's session.

A request is one transaction: views use `session()`, and the hub commits once at the
boundary (see backend.app) or rolls back on any refusal. Nothing below commits.
Checks that run before the view (who is calling) read with `read_row()`, outside that
transaction while it has not begun, so a request that writes nothing (a card
challenge) costs one round trip instead of BEGIN, the read and COMMIT.

On SQLite a transaction that has read cannot become a writer once another connection
has committed (SQLITE_BUSY_SNAPSHOT) or while one is writing (SQLITE_BUSY), and
busy_timeout does not wait for either: the write fails at once, which the hub answers
503. So a transaction that may write begins `BEGIN IMMEDIATE`, taking the single write
lock first (waiting busy_timeout for it): sessions (`Database.transaction()`, tasks,
the CLI) and requests that change something. Requests that only read (GET, HEAD,
OPTIONS) and bare engine connections (the verifier's scans) begin deferred, so WAL
readers still run side by side and never wait for a writer; the audit record a read
may leave is chained by restarting that read-only transaction as a writer
(`begin_again_as_writer`, backend.audit.append). PostgreSQL is untouched by all this.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, cast

from flask import current_app, g, has_request_context, request
from sqlalchemy import MetaData, Table, create_engine, event, exc
from sqlalchemy.engine import URL, Connection, CursorResult, Engine, Result, Row, make_url
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

    if TYPE_CHECKING:
        # Every model here declares `__tablename__`, so it is mapped to a `Table`, not to
        # any `FromClause` as SQLAlchemy's own annotation allows: its `insert()`,
        # `update()` and `delete()` are there to be used.
        __table__: ClassVar[Table]


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """How many rows an UPDATE or DELETE matched. `Session.execute` is typed to return a
    plain `Result` whatever it ran; for those statements it is a `CursorResult`, which
    counts them."""
    return cast(CursorResult[*tuple[Any, ...]], result).rowcount


def dialect_insert(sess: Session) -> Any:
    """`insert` of the session's dialect, for its ON CONFLICT clauses (both have them)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if sess.get_bind().dialect.name == "postgresql" else sqlite.insert


def driver_connection(conn: Connection) -> Any:
    """The driver's own connection (psycopg's, sqlite3's) under `conn`. SQLAlchemy types
    it optional: it is None only once the pooled connection is invalidated or closed."""
    raw = conn.connection.driver_connection
    assert raw is not None, "the connection was invalidated or closed"
    return raw


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


def libpq_url(url: str) -> str:
    """A URL libpq (psycopg.connect) takes, from one SQLAlchemy takes:
    `postgresql+psycopg://` is not libpq's."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}" if sep else url


def make_engine(url: str, pooler: str = "", **kwargs: Any) -> Engine:
    """An engine for `url`. Through a `transaction` pooler psycopg prepares nothing: it
    prepares a statement on its fifth run on a connection, and a pooler in transaction
    mode may hand the next transaction another server connection, which lacks it.

    On PostgreSQL the hub's sessions run without JIT compilation: its statements are
    short, and the planner compiles any it over-estimates (a name search at ten million
    people: ~7 ms of compiling for a 35 ms query, bench/bench_citizen_search.py). A
    pooler in transaction mode passes no session options; there, set `jit = off` for
    the hub's role (`ALTER ROLE ... SET jit = off`)."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("connect_args", {"prepare_threshold": None} if pooler == "transaction"
                      else {"options": "-c jit=off"})
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


# How a transaction on SQLite begins: the connection's execution option SQLITE_BEGIN,
# read by `_sqlite_begin` (the engine's default: deferred).
SQLITE_BEGIN = "satukartu_sqlite_begin"
BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"  # take the write lock now: this transaction may write
BEGIN_DEFERRED = "BEGIN"  # a reader: a snapshot at its first read, no lock
NO_BEGIN = ""  # `read_row`: the statement runs alone in autocommit
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SQLITE_BUSY = 5  # the primary result code of SQLITE_BUSY and SQLITE_BUSY_SNAPSHOT


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, issue BEGIN, so SAVEPOINTs and rollbacks are real.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN as the connection asks (SQLAlchemy's recipe for pysqlite: the driver's own
    transaction handling is off, see `_sqlite_pragmas`, and this listener emits BEGIN)."""
    statement = conn.get_execution_options().get(SQLITE_BEGIN, BEGIN_DEFERRED)
    if statement:
        conn.exec_driver_sql(statement)


def sqlite_busy(error: exc.DBAPIError) -> bool:
    """Whether SQLite refused for another connection's write (SQLITE_BUSY, _SNAPSHOT)."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == SQLITE_BUSY


def begin_again_as_writer(conn: Connection) -> None:
    """End this SQLite transaction and begin it again holding the write lock.

    Only for a transaction that has written nothing: one that wrote holds the write lock
    and is never refused SQLITE_BUSY, so that refusal on a write proves it only read.
    What it read is then let go, which suits a caller whose write does not depend on it
    (an audit append reads the chain's head again). SQLAlchemy's transaction on `conn`
    goes on and commits the new one.
    """
    conn.exec_driver_sql("ROLLBACK")
    conn.exec_driver_sql(BEGIN_IMMEDIATE)


def request_begin() -> str:
    """How the request's transaction begins on SQLite: deferred for a request that only
    reads by its method, else holding the write lock from its first statement."""
    if has_request_context() and request.method in READ_ONLY_METHODS:
        return BEGIN_DEFERRED
    return BEGIN_IMMEDIATE


# The server's run (migration 0026): made by the first to find none, read by all.
RUN_START = "INSERT INTO database_run (id) VALUES (1) ON CONFLICT (id) DO NOTHING"
RUN_READ = "SELECT run::text FROM database_run WHERE id = 1"


class Database:
    """The app's engine and session factory (tests swap the factory for a savepoint one)."""

    def __init__(self, url: str, pooler: str = "", replica_url: str = "") -> None:
        self.engine = make_engine(url, pooler)
        # A streaming replica for the audit log's readers (`backend.audit.reading`), if any.
        self.replica = make_engine(replica_url, pooler) if replica_url else None
        # Sessions are units of work that may write: on SQLite they begin IMMEDIATE, on
        # the same pool. Bare `engine` connections begin deferred.
        self.writer = (self.engine.execution_options(**{SQLITE_BEGIN: BEGIN_IMMEDIATE})
                       if self.dialect == "sqlite" else self.engine)
        self.sessions = sessionmaker(bind=self.writer, expire_on_commit=False)
        # The PostgreSQL server's run since its last crash recovery, as this process last
        # heard it (migration 0026; "" on SQLite, or before it was heard). Card challenge
        # nonces are bound to it: a card token commits without waiting for the disk, and
        # a nonce spent by a commit a crash lost must not be taken after it
        # (backend.cards.authentication).
        self.server_run = ""
        if self.dialect == "postgresql":
            event.listen(self.engine, "connect", self._heard_server_run)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _heard_server_run(self, dbapi_connection: Any, _record: Any) -> None:
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(RUN_START)
                run = cursor.execute(RUN_READ).fetchone()
            dbapi_connection.commit()
            if run is not None:  # None: emptied in between; the next token learns it
                self.server_run = run[0]
        except self.engine.dialect.loaded_dbapi.Error:
            # Not migrated yet, or a role that may not write it: tokens learn the run.
            dbapi_connection.rollback()

    def heard_run(self, run: str | None) -> None:
        """A card token found the server in `run` (None: in none yet, after a crash
        recovery emptied the table): start one if need be, and take it as current."""
        if run is None:
            try:
                with self.engine.begin() as conn:
                    conn.exec_driver_sql(RUN_START)
                    run = conn.exec_driver_sql(RUN_READ).scalar()
            except exc.DBAPIError:
                return  # a role that may not write it, a serialization failure: next time
        if run is not None:
            self.server_run = run

    @property
    def reads_outside_transactions(self) -> bool:
        """Sessions on the engine, as served. Tests bind sessions to one outer
        transaction instead: there every read stays in that transaction."""
        return self.sessions.kw.get("bind") is self.writer

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work outside a request (CLI, tasks): commit on success.

        On SQLite it begins IMMEDIATE: a thread must not open one while its own
        request's write transaction (or another of these) is open, or it waits on itself.
        """
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
    if db.dialect == "sqlite":
        return _sqlite_read_row(_request_connection(db), statement, params)
    with statements_alone() as conn:
        assert conn is not None  # PostgreSQL, served, before the session: always
        return conn.execute(statement, params).first()


def alone_possible() -> bool:
    """Whether `statements_alone` would give the request's connection now."""
    db = database()
    return ("db_session" not in g and db.reads_outside_transactions
            and db.dialect == "postgresql")


@contextmanager
def statements_alone() -> Iterator[Connection | None]:
    """The request's connection in autocommit on PostgreSQL: each statement run on it
    is a transaction of its own, committed by the server as it ends (no BEGIN, no COMMIT
    sent). None where that cannot be: SQLite, sessions bound to an outer transaction (the
    tests'), or once the request's session is open (its transaction is under way).

    For `read_row`, and for a request whose whole change is one statement (a card
    token: `backend.cards.authentication.authenticate_alone`).
    """
    if not alone_possible():
        yield None
        return
    with autocommitted(_request_connection(database())) as conn:
        yield conn


@contextmanager
def autocommitted(conn: Connection) -> Iterator[Connection]:
    """A PostgreSQL connection on which each statement commits as it ends.

    psycopg's flag, not SQLAlchemy's isolation option: switching it sends nothing and
    costs nothing, where the option costs ~35 us a use (set, then reset at check-in).
    It is off again before anything else runs on the connection.
    """
    raw = driver_connection(conn)
    raw.autocommit = True
    try:
        yield conn
    except BaseException:
        if not conn.invalidated:
            raw.autocommit = False
        conn.rollback()  # SQLAlchemy's bookkeeping: the server rolled the statement back
        raise
    if not conn.invalidated:
        raw.autocommit = False
    conn.commit()  # SQLAlchemy's bookkeeping: nothing was begun on the wire


def _sqlite_read_row(conn: Connection, statement: Executable,
                     params: Mapping[str, Any]) -> Row | None:
    """`read_row` on SQLite: with no BEGIN sent, the read holds no snapshot or lock, so
    the request's transaction begins later, at the view's first statement (a request
    that first signs a checkpoint in a transaction of its own, or counts a sign-in try,
    is not waiting on itself)."""
    begin = conn.get_execution_options().get(SQLITE_BEGIN, BEGIN_DEFERRED)
    conn.execution_options(**{SQLITE_BEGIN: NO_BEGIN})
    try:
        row = conn.execute(statement, params).first()
    finally:
        conn.execution_options(**{SQLITE_BEGIN: begin})
    conn.commit()  # SQLAlchemy's bookkeeping: nothing was begun on the wire
    return row


def close_request_connection() -> None:
    """Give the request's connections back to their pools (the app's teardown)."""
    for name in ("db_connection", "replica_connection"):
        conn = g.pop(name, None)
        if conn is not None:
            conn.close()


def replica_connection() -> Connection:
    """The request's one connection to the replica (`Database.replica`, which the caller
    checked is there); it reads in a transaction of its own, ended with the request."""
    db = database()
    assert db.replica is not None, "the hub has no replica"
    conn = g.get("replica_connection")
    if conn is None:
        conn = g.replica_connection = db.replica.connect()
    return conn


def drop_replica_connection() -> None:
    """Forget a replica connection that failed, so the request goes on without it."""
    conn = g.pop("replica_connection", None)
    if conn is not None:
        conn.invalidate()
        conn.close()


def _request_connection(db: Database) -> Connection:
    """The one pooled connection of this request, shared by `read_row` and the session."""
    conn = g.get("db_connection")
    if conn is None:
        conn = g.db_connection = db.engine.connect()
        if db.dialect == "sqlite":
            conn.execution_options(**{SQLITE_BEGIN: request_begin()})
    return conn
