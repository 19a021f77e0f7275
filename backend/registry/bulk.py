"""PostgreSQL's recipe for loading much data: indexes and constraints built after.

Maintaining indexes and checking a foreign key row by row costs more than building
each index once and checking each key with one join afterwards (PostgreSQL manual,
"Populating a Database"). When an import at least doubles the registry, the importer
drops the registry tables' secondary indexes, unique constraints and foreign keys inside
its transaction and recreates them, from their own definitions in the catalog, before
it commits: a duplicate or a dangling reference still fails the import, at that point.
Primary keys stay. The tables are locked against other readers and writers until the
import commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

TABLES = ("citizens", "households", "household_members", "school_enrolments",
          "health_assignments", "registry_changes")

_FOREIGN_KEYS = text("""
    SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE contype = 'f' AND conrelid = ANY(CAST(:tables AS regclass[]))
    ORDER BY conrelid::regclass::text, conname""")
# Unique constraints no foreign key outside the registry tables depends on.
_UNIQUES = text("""
    SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)
    FROM pg_constraint u
    WHERE contype = 'u' AND conrelid = ANY(CAST(:tables AS regclass[]))
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f'
                      AND f.conindid = u.conindid
                      AND NOT f.conrelid = ANY(CAST(:tables AS regclass[])))
    ORDER BY conrelid::regclass::text, conname""")
_INDEXES = text("""
    SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
    FROM pg_index
    WHERE indrelid = ANY(CAST(:tables AS regclass[])) AND NOT indisprimary
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = indexrelid
                      AND c.contype IN ('p', 'u', 'x'))
    ORDER BY indexrelid::regclass::text""")


@contextmanager
def indexes_built_after(conn: Connection, tables: Sequence[str] = TABLES) -> Iterator[None]:
    """Drop the tables' foreign keys, unique constraints and other indexes; recreate on exit.

    Constraints come back before the keys that refer to them, keys last.
    """
    names = list(tables)
    keys = conn.execute(_FOREIGN_KEYS, {"tables": names}).all()
    uniques = conn.execute(_UNIQUES, {"tables": names}).all()
    indexes = conn.execute(_INDEXES, {"tables": names}).all()
    for table, name, _definition in [*keys, *uniques]:
        conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for index, _definition in indexes:
        conn.exec_driver_sql(f"DROP INDEX {index}")
    yield
    for _index, definition in indexes:
        conn.exec_driver_sql(definition)
    for table, name, definition in [*uniques, *keys]:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def worth_it(conn: Connection, incoming: int, tables: Sequence[str] = TABLES) -> bool:
    """Whether the import at least doubles the registry and we may alter its tables.

    A connection that does not own the tables (a restricted application role) keeps
    the indexes and pays for them row by row.
    """
    existing, owner = conn.execute(text("""
        SELECT (SELECT greatest(reltuples, 0)::bigint FROM pg_class
                WHERE oid = 'citizens'::regclass),
               bool_and(pg_has_role(current_user, relowner, 'USAGE'))
        FROM pg_class WHERE oid = ANY(CAST(:tables AS regclass[]))"""),
        {"tables": list(tables)}).one()
    return bool(owner) and incoming >= max(existing, 1000)
