"""The audit tests' own store: a hub whose commits are real, on a fresh SQLite file or
a fresh PostgreSQL database where the hub connects as the application role, and
`tamper()` acts as the owner with the append-only triggers disabled.

It rewrites the log as a forger would, so it lives with the tests, never in the
installed hub.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import Connection, Engine, select, text

from backend import migrations
from backend.app import create_app
from backend.audit import record, roles
from backend.audit.append import head
from backend.audit.chain import canonical_text, leaf_hash, next_head
from backend.audit.checkpoints import Checkpoint, make_checkpoint
from backend.audit.models import AUDIT_TABLES, AuditRecord
from backend.audit.sequencer import settle
from backend.audit.verify import Report, verify_app
from backend.db import database, make_engine
from backend.testing import databases
from backend.testing.audit import list_records

_T = AuditRecord.__table__


@dataclass
class AuditStore:
    dialect: str
    app: Flask
    owner_url: str  # PostgreSQL: the owner role; SQLite: the file itself

    @property
    def engine(self) -> Engine:
        return database().engine

    def fill(self, count: int, per_transaction: int = 1, **fields: Any) -> None:
        """Append `count` records through record(), as the hub would."""
        db = database()
        written = 0
        while written < count:
            with db.transaction() as sess:
                for _ in range(min(per_transaction, count - written)):
                    written += 1
                    record(sess, action=fields.get("action", "registry.citizen.read"),
                           subject_type="citizen", subject_id=str(written),
                           citizen_id=fields.get("citizen_id", written),
                           purpose=fields.get("purpose", "counter service"),
                           details={"n": written})

    def checkpoint(self) -> Checkpoint:
        made = make_checkpoint(database(), self.app.config, force=True)
        assert made is not None
        return made

    def verify(self, jobs: int = 1) -> Report:
        """The verifier's report, after chaining what is queued, as `audit verify` does."""
        settle(self.engine)
        with self.engine.connect() as conn:
            return verify_app(conn, self.app.config, jobs=jobs)

    def records(self) -> list[dict[str, Any]]:
        """The chain's records after chaining what is queued, as the hub's readers do."""
        settle(self.engine)
        return self.chained()

    def chained(self) -> list[dict[str, Any]]:
        """The chain's records as they stand, queued ones left out."""
        with self.engine.connect() as conn:
            return list_records(conn)

    def chained_soon(self, count: int, seconds: float = 10.0) -> list[dict[str, Any]]:
        """The chain's records once it holds `count` without anyone settling: what the
        process's sequencer chains off the request path."""
        deadline = time.monotonic() + seconds
        while len(found := self.chained()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return found

    @contextmanager
    def tamper(self) -> Iterator[Connection]:
        """A connection as the tables' owner with the append-only triggers out of the way,
        once what was written is chained (a forger edits the chain, not the queue)."""
        settle(self.engine)
        engine = make_engine(self.owner_url, poolclass=None)
        try:
            with engine.begin() as conn:
                _triggers(conn, enable=False)
                yield conn
                _triggers(conn, enable=True)
        finally:
            engine.dispose()


def _triggers(conn: Connection, enable: bool) -> None:
    if conn.dialect.name == "postgresql":
        verb = "ENABLE" if enable else "DISABLE"
        for table in AUDIT_TABLES:
            conn.execute(text(f"ALTER TABLE {table} {verb} TRIGGER USER"))
        return
    for table in AUDIT_TABLES:
        for action in ("update", "delete"):
            name = f"{table}_no_{action}"
            if enable:
                conn.execute(text(
                    f"CREATE TRIGGER {name} BEFORE {action.upper()} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'audit table {table}: {action.upper()} refused, "
                    "the log is append-only'); END"))
            else:
                conn.execute(text(f"DROP TRIGGER {name}"))


def rewrite_from(conn: Connection, seq: int, **changes: Any) -> None:
    """Change record `seq` and recompute every hash after it: a careful forger's edit."""
    conn.execute(_T.update().where(_T.c.seq == seq).values(**changes))
    rows = conn.execute(select(_T).where(_T.c.seq >= seq).order_by(_T.c.seq)).all()
    prev = rows[0].prev_hash
    for row in rows:
        values = dict(row._mapping)
        new = next_head(prev, leaf_hash(canonical_text(values)))
        conn.execute(_T.update().where(_T.c.seq == row.seq).values(prev_hash=prev, hash=new))
        prev = new


def swap(conn: Connection, p: int, q: int) -> None:
    """Exchange two records' places (their sequence numbers)."""
    conn.execute(_T.update().where(_T.c.seq == p).values(seq=-1))
    conn.execute(_T.update().where(_T.c.seq == q).values(seq=p))
    conn.execute(_T.update().where(_T.c.seq == -1).values(seq=q))


def chain_size(conn: Connection) -> int:
    return head(conn)[0]


@pytest.fixture(scope="session")
def audit_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit-template") / "template.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@dataclass
class PgRoles:
    owner: str
    app: str


@pytest.fixture
def pg_roles(fresh_pg_url: str) -> Iterator[PgRoles]:
    """An owner and an application role on a fresh database, set up as README.md says."""
    suffix = uuid.uuid4().hex[:8]
    names = PgRoles(owner=f"sk_owner_{suffix}", app=f"sk_app_{suffix}")
    admin = databases._admin_conninfo()
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in (names.owner, names.app):
            conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        _set_up_roles(fresh_pg_url, names)
        yield names
    finally:
        databases.drop_pg_database(fresh_pg_url.rsplit("/", 1)[1])  # roles own objects there
        with psycopg.connect(admin, autocommit=True) as conn:
            for role in (names.owner, names.app):
                conn.execute(f"DROP ROLE IF EXISTS {role}")


def _set_up_roles(url: str, names: PgRoles) -> None:
    engine = make_engine(url, poolclass=None)
    try:
        with engine.begin() as conn:
            database_name = conn.execute(text("SELECT current_database()")).scalar()
            conn.execute(text(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database_name}" '
                              f"TO {names.app}, {names.owner}"))
            conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {names.owner}"))
            roles.apply(conn, roles.ownership_statements(conn, names.owner))
        with engine.begin() as conn:
            conn.execute(text(f"SET ROLE {names.owner}"))
            roles.apply(conn, roles.grant_statements(names.app))
    finally:
        engine.dispose()


def as_role(url: str, role: str) -> str:
    """The same database, logged in as `role` (trust authentication in tests)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


@pytest.fixture(params=("sqlite", "postgresql"))
def audit_store(request: pytest.FixtureRequest, tmp_path: Path,
                audit_sqlite_template: Path) -> Iterator[AuditStore]:
    instance = tmp_path / "instance"
    if request.param == "sqlite":
        path = tmp_path / "audit.db"
        shutil.copy(audit_sqlite_template, path)
        app_url = owner_url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("fresh_pg_url")
        names: PgRoles = request.getfixturevalue("pg_roles")
        app_url, owner_url = as_role(url, names.app), as_role(url, names.owner)
    app = create_app(DATABASE_URL=app_url, INSTANCE_DIR=str(instance),
                     SECRET_KEY="test-secret-key-not-for-production",
                     ORIGIN="https://hub.test.satukartu")
    with app.app_context():
        yield AuditStore(request.param, app, owner_url)
    database_of(app).engine.dispose()


def database_of(app: Flask):  # the hub's Database
    return app.extensions["satukartu.db"]
