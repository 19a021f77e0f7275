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

from backend.partitions import SCHEMA as PARTITIONS

# Tables the migrations make that no model maps, by design, on the databases named.
UNMAPPED_TABLES = {
    # PostgreSQL only (migration 0007): written and emptied by the SQL functions
    # audit_enqueue() and audit_chain_queued() alone; the hub names it in raw SQL
    # (backend/audit/sequencer.py) and SQLite chains records before commit without it.
    "audit_queue": {"postgresql"},
    # PostgreSQL only (migration 0026): one UNLOGGED row naming the server's run since
    # its last crash recovery, which card nonces are bound to (backend/db.py).
    "database_run": {"postgresql"},
}

# Columns the migrations make that no model maps, by table, on the databases named.
UNMAPPED_COLUMNS = {
    # PostgreSQL only (migration 0017): the journal's partition key, `now()` of the
    # posting transaction, and the entry's copy of it in the rows that name an entry.
    # Only the database's own keys read them; every row of one posting gets the same
    # value by default, so the hub never names them.
    ("journal_entries", "posted_at"): {"postgresql"},
    ("journal_lines", "posted_at"): {"postgresql"},
    ("ledger_grants", "entry_posted_at"): {"postgresql"},
    ("ledger_settlements", "entry_posted_at"): {"postgresql"},
}

# Foreign keys the migrations make that no model declares, on the databases named.
UNMAPPED_FOREIGN_KEYS = {
    # PostgreSQL only (migration 0017): an entry is found by (id, posted_at) in the
    # partitioned journal, so these replace the models' keys on entry_id alone.
    "fk_journal_lines_entry": {"postgresql"},
    "fk_ledger_grants_entry": {"postgresql"},
    "fk_ledger_settlements_entry": {"postgresql"},
}


# Foreign keys the models declare that exist only on the databases named.
FOREIGN_KEY_DIALECTS = {
    # A partitioned table can be referred to only by a key holding its partition key:
    # on PostgreSQL, the UNMAPPED_FOREIGN_KEYS above stand in for these.
    "fk_journal_lines_entry_id_journal_entries": {"sqlite"},
    "fk_ledger_grants_entry_id_journal_entries": {"sqlite"},
    "fk_ledger_settlements_entry_id_journal_entries": {"sqlite"},
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
        if type_ == "column" and reflected and compare_to is None:
            return dialect not in UNMAPPED_COLUMNS.get((obj.table.name, name or ""), set())
        if type_ == "foreign_key_constraint" and reflected and compare_to is None:
            if obj.referred_table.schema == PARTITIONS:
                # PostgreSQL keeps a foreign key to a partitioned table as the key plus an
                # internal copy per partition, which reflection reports as keys of their
                # own: they come and go with the months.
                return False
            if name in UNMAPPED_FOREIGN_KEYS:
                return dialect not in UNMAPPED_FOREIGN_KEYS[name]
        if type_ == "foreign_key_constraint" and name in FOREIGN_KEY_DIALECTS:
            return dialect in FOREIGN_KEY_DIALECTS[name]
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
