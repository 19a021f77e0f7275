"""Partition upkeep: this month's and the coming months' partitions, made ahead of time.

A month's rows land in the DEFAULT partition when their partition is missing, and a
partition cannot be attached for a month the default partition already holds rows
of (backend/partitions/README.md says how to move them). So the upkeep runs every day
(beat), at every deployment (docker/migrate.sh) and on demand, always several months
ahead: a month is made weeks before its first record, while the default is empty.

The work is `partitions_ensure()` in the database, a SECURITY DEFINER function owned
by the tables' owner (migration 0016 says why that is safe), so the hub's role can run
it without holding the owner's rights, and a run as the owner does the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from backend.partitions import MAX_MONTHS_AHEAD, MONTHS_AHEAD

_HAS_UPKEEP = text("SELECT to_regprocedure('partitions_ensure(integer)') IS NOT NULL")
_ENSURE = text("SELECT made FROM partitions_ensure(:months) AS made")
# The planner's row estimates (reltuples, -1 before the first ANALYZE): reading them
# needs no privilege on the partitions, and counting a month's rows would scan it.
_LISTING = text("""
SELECT parent.relname AS parent, child.relname AS name,
       pg_get_expr(child.relpartbound, child.oid) AS bounds,
       child.reltuples::bigint AS estimate
FROM pg_inherits i
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = parent.relnamespace
WHERE n.nspname = current_schema() AND parent.relkind = 'p'
ORDER BY parent.relname, pg_get_expr(child.relpartbound, child.oid) = 'DEFAULT',
         child.relname
""")


@dataclass(frozen=True)
class Partition:
    table: str  # the partitioned table, e.g. audit_records
    name: str  # the partition, in the `partitions` schema
    bounds: str  # PostgreSQL's own words: FOR VALUES FROM (...) TO (...), or DEFAULT
    rows: int | None  # the planner's estimate; None before the partition was analysed

    @property
    def is_default(self) -> bool:
        return self.bounds == "DEFAULT"


def partitioned(conn: Connection) -> bool:
    """Whether this database has partitioned tables to keep (PostgreSQL, migrated)."""
    return conn.dialect.name == "postgresql" and bool(conn.execute(_HAS_UPKEEP).scalar())


def ensure(conn: Connection, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Make this month's and the next `months_ahead` months' partitions that are
    missing; returns the names made (none on a second run). The caller commits."""
    if not 0 <= months_ahead <= MAX_MONTHS_AHEAD:
        raise ValueError(f"months_ahead must be 0..{MAX_MONTHS_AHEAD}, not {months_ahead}")
    if not partitioned(conn):
        return []
    return [str(name) for name in conn.execute(_ENSURE, {"months": months_ahead}).scalars()]


def listing(conn: Connection) -> list[Partition]:
    """Every partition of every partitioned table of the hub's schema, months in order,
    each table's DEFAULT partition last."""
    if conn.dialect.name != "postgresql":
        return []
    return [Partition(table=row.parent, name=row.name, bounds=row.bounds,
                      rows=None if row.estimate < 0 else int(row.estimate))
            for row in conn.execute(_LISTING)]
