"""How the models are compared with a migrated database (Alembic's autogenerate).

One set of rules for the test that the models match the migrations
(tests/backend/test_models_match_migrations.py), for `satukartu db revision` and for
env.py, so that what the test accepts is exactly what a new revision would not write.

Everything autogenerate compares is compared: tables, columns, types, nullability,
server defaults, indexes, unique and foreign key constraints. The few exclusions
below are objects the migrations make on purpose outside the models; each says why.
Autogenerate does not compare CHECK constraints at all: the test compares their names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

# Tables the migrations make that no model maps, by design, on the databases named.
UNMAPPED_TABLES = {
    # PostgreSQL only (migration 0007): written and emptied by the SQL functions
    # audit_enqueue() and audit_chain_queued() alone; the hub names it in raw SQL
    # (backend/audit/sequencer.py) and SQLite chains records before commit without it.
    "audit_queue": {"postgresql"},
}

# Indexes the models declare that exist only on the databases named.
INDEX_DIALECTS = {
    # A GIN trigram index (pg_trgm, migrations 0001 and 0012): SQLite has neither, and
    # its LIKE '%...%' scans anyway, so the migrations make it on PostgreSQL only. On
    # PostgreSQL it is compared like any other index.
    "ix_citizens_name_trgm": {"postgresql"},
    # The same, on the key with its spaces out (migration 0014).
    "ix_citizens_name_joined_trgm": {"postgresql"},
}

# Unique constraints the models declare that exist only on the databases named.
CONSTRAINT_DIALECTS = {
    # The UNIQUE on the chain's hash (migration 0003). A partitioned table's unique keys
    # must contain its partition key, so migration 0016 drops it on PostgreSQL, where
    # audit_records is partitioned by month of `at`; the verifier checks every link.
    "uq_audit_records_hash": {"sqlite"},
}


def include_object_for(dialect: str) -> Callable[..., bool]:
    """Alembic's include_object hook for a database of this dialect."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                       compare_to: Any) -> bool:
        if type_ == "table" and reflected and compare_to is None:
            return dialect not in UNMAPPED_TABLES.get(name or "", set())
        if type_ == "index" and name in INDEX_DIALECTS:
            return dialect in INDEX_DIALECTS[name]
        if type_ == "unique_constraint" and name in CONSTRAINT_DIALECTS:
            return dialect in CONSTRAINT_DIALECTS[name]
        return True

    return include_object


def options(dialect: str) -> dict[str, Any]:
    """The comparison's options for context.configure / MigrationContext.configure."""
    return {
        "compare_type": True,
        # Server defaults are compared too (PostgreSQL evaluates both sides to compare
        # them). A computed column's expression is not: PostgreSQL rewrites it, so
        # Alembic only warns about ledger_accounts.owner_id and reports no difference.
        "compare_server_default": True,
        "include_object": include_object_for(dialect),
    }


def differences(conn: Connection) -> list[Any]:
    """What autogenerate would change in `conn`'s database to match the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from backend.db import Base
    from backend.models import import_all

    import_all()
    context = MigrationContext.configure(conn, opts=options(conn.dialect.name))
    return compare_metadata(context, Base.metadata)
