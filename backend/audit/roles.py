"""PostgreSQL roles: an owner that migrates, an application role that cannot rewrite history.

The hub's processes connect as the application role. It may read and write every
table but the audit ones (and the queue of records waiting to be chained), where it
may only INSERT and SELECT; the triggers of
migration 0003 refuse UPDATE, DELETE and TRUNCATE to everyone, the owner included,
until the owner disables them (which is itself visible in PostgreSQL's log).
The log's monthly partitions (migration 0016) live in a schema the app role has no
USAGE on, so it reaches them only through `audit_records` and its grants above.
README.md shows the whole set-up; these functions produce its SQL.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

from backend.audit.models import AUDIT_TABLES
from backend.audit.sequencer import QUEUE_TABLE
from backend.partitions import SCHEMA as PARTITIONS

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a plain role name: {name!r}")
    return name


def grant_statements(app_role: str, schema: str = "public") -> list[str]:
    """What the owner runs after each `satukartu db upgrade` to equip the app role."""
    app, schema = _ident(app_role), _ident(schema)
    audit = ", ".join(f"{schema}.{table}" for table in (*AUDIT_TABLES, QUEUE_TABLE))
    return [
        f"GRANT USAGE ON SCHEMA {schema} TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {app}",
    ]


def ownership_statements(conn: Connection, owner: str, schema: str = "public") -> list[str]:
    """Hand every table, view, free-standing sequence, type and function of the schema to
    `owner` (for a database that was migrated by a superuser before the roles existed).

    Owned sequences and indexes follow their table; a partitioned table depends on
    itself through its partition key, which does not make it owned by anything."""
    owner, schema = _ident(owner), _ident(schema)
    params = {"s": schema}
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    relations = conn.execute(text(
        "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.relkind IN "
        "('r', 'p', 'v', 'm', 'S') AND NOT EXISTS (SELECT 1 FROM pg_depend d "
        "WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN "
        "('a', 'i') AND d.refobjid <> c.oid) ORDER BY c.relkind, c.relname"), params).all()
    types = conn.execute(text(
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = :s AND t.typtype IN ('e', 'd')"), params).scalars().all()
    functions = conn.execute(text(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = :s"), params).scalars().all()
    statements = [f'ALTER {kinds[kind]} {schema}."{name}" OWNER TO {owner}'
                  for kind, name in relations]
    statements += [f'ALTER TYPE {schema}."{name}" OWNER TO {owner}' for name in types]
    statements += [f"ALTER FUNCTION {function} OWNER TO {owner}" for function in functions]
    return statements + _partition_statements(conn, owner)


def _partition_statements(conn: Connection, owner: str) -> list[str]:
    """The partitions' schema and every partition in it (migration 0016): the owner
    makes the coming months' partitions there, and attaching one needs both tables'
    ownership. Partitions depend on their parent, so the query above skips them."""
    if conn.execute(text("SELECT to_regnamespace(:s) IS NULL"), {"s": PARTITIONS}).scalar():
        return []
    names = conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :s AND c.relkind IN ('r', 'p') ORDER BY c.relname"),
        {"s": PARTITIONS}).scalars().all()
    return [f"ALTER SCHEMA {PARTITIONS} OWNER TO {owner}",
            *(f'ALTER TABLE {PARTITIONS}."{name}" OWNER TO {owner}' for name in names)]


def apply(conn: Connection, statements: list[str]) -> None:
    for statement in statements:
        conn.execute(text(statement))
