"""audit (PostgreSQL): the record chain partitioned by month of `at`.

`audit_records` becomes a table partitioned by RANGE on `at`, one partition per UTC
calendar month (`partitions.audit_records_YYYY_MM`) plus a DEFAULT partition
(`partitions.audit_records_default`), so an insert never fails for want of a month.
The rows are copied across in one transaction holding the table's ACCESS EXCLUSIVE
lock; the coming months get their partitions now and, later, from the upkeep
(`partitions_ensure()`, `satukartu db partitions`, a daily beat task).

Why by the month of `at`: old months can be archived or moved to cheaper storage a
partition at a time, and every index stays a month deep. `at` never runs backwards
along the chain (audit_chain_queued), so months follow the chain's order and seq
order stays seq order within and across partitions.

Integrity, and where it moved. PostgreSQL wants every unique key of a partitioned
table to contain the partition key, so:
- the primary key is now (seq, at). Uniqueness of `seq` alone is held by the one
  writer of the chain (audit_chain_queued under the chain's advisory lock, which
  numbers head + 1) and checked by the verifier, which reads records in seq order
  and reports any repeated or missing number. A repeat within a month is still
  refused by the key itself, and a repeat across months would need two records a
  month apart with one number, i.e. a rewrite the verifier names anyway;
- the UNIQUE on `hash` is dropped on PostgreSQL (SQLite keeps it). It was a backstop
  to the lock; a head hash covers its seq and its predecessor, so a repeated hash is
  a broken link the verifier reports at its position.
- append-only: the row trigger refusing UPDATE and DELETE is declared on the parent
  and PostgreSQL clones it onto every partition, present and future. TRUNCATE
  triggers are statement triggers, which PostgreSQL does not clone: the parent has
  one, and partitions_add_month() copies the parent's TRUNCATE triggers onto every
  partition it makes (the migration's partitions are made by it too).
- the application role: partitions live in their own schema, `partitions`, on which
  the application role has no USAGE, so it cannot name a partition at all, let alone
  change one, whatever `GRANT ... ON ALL TABLES IN SCHEMA public` gives it. Queries
  through `audit_records` reach the partitions with the parent's privileges
  (PostgreSQL checks only the table a query names), which stay INSERT and SELECT
  (backend/audit/roles.py). The parent's grants are carried across by this migration.

Partitions are made by the owner: the migration, and partitions_ensure(), a SECURITY
DEFINER function owned by the owner that the hub's role may call (the beat task, the
CLI). It takes only a month count, names every object itself, and can do no more than
attach empty partitions for coming months; that is why the upkeep may run as the
hub's role without the hub holding the owner's rights. Its lock_timeout keeps a
partition that has to wait for a long reader (a verification holds the default
partition) from stalling the hub: it gives up that month and the next run takes it.

Downgrade copies the rows back into a plain table with its key on `seq` and the
UNIQUE on `hash`, its triggers and grants, and drops the partitions' schema.

Revision ID: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

PARTITIONS = "partitions"
MONTHS_AHEAD = 3
COLUMNS = ("seq, at, actor_kind, actor, role, terminal_id, action, subject_type, "
           "subject_id, citizen_id, purpose, outcome, details, details_digest, prev_hash, "
           "hash")

COLUMN_DDL = """
    seq bigint NOT NULL,
    at timestamptz NOT NULL,
    actor_kind text NOT NULL,
    actor text,
    role text,
    terminal_id text,
    action text NOT NULL,
    subject_type text,
    subject_id text,
    citizen_id bigint,
    purpose text,
    outcome text NOT NULL,
    details text NOT NULL,
    details_digest bytea NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
"""

# One month's partition of a partitioned table of the hub's schema, made empty and
# attached (ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, so readers and writers
# of the parent go on; the default partition is locked while it is checked). Months
# are UTC calendar months. NULL when the partition exists, or when the default
# partition already holds rows of that month (attaching would fail; the operator
# moves them, see backend/partitions/README.md). Not callable by the hub's role.
PG_ADD_MONTH = r"""
CREATE OR REPLACE FUNCTION partitions_add_month(parent text, month date)
RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    hub text := '{schema}';
    part text := parent || '_' || pg_catalog.to_char(month, 'YYYY_MM');
    first_day date := pg_catalog.date_trunc('month', month)::date;
    lo timestamptz;
    hi timestamptz;
    key text;
    crowded boolean;
    trig record;
BEGIN
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', '{partitions}', part))
            IS NOT NULL THEN
        RETURN NULL;
    END IF;
    lo := first_day::timestamp AT TIME ZONE 'UTC';
    hi := (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    SELECT a.attname INTO key FROM pg_catalog.pg_partitioned_table p
        JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid
                                      AND a.attnum = p.partattrs[0]
        WHERE p.partrelid = pg_catalog.format('%I.%I', hub, parent)::regclass;
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', '{partitions}',
                                                parent || '_default')) IS NOT NULL THEN
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE %I >= $1 '
                                  'AND %I < $2)', '{partitions}', parent || '_default',
                                  key, key)
            INTO crowded USING lo, hi;
        IF crowded THEN
            RAISE WARNING 'partition %.% not made: the default partition holds rows of '
                          'that month', '{partitions}', part;
            RETURN NULL;
        END IF;
    END IF;
    EXECUTE pg_catalog.format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS)',
                              '{partitions}', part, hub, parent);
    EXECUTE pg_catalog.format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I '
                              'FOR VALUES FROM (%L) TO (%L)',
                              hub, parent, '{partitions}', part, lo, hi);
    -- statement-level TRUNCATE triggers are not cloned onto partitions: copy them
    FOR trig IN SELECT t.tgname, t.tgfoid::regproc AS fn FROM pg_catalog.pg_trigger t
            WHERE t.tgrelid = pg_catalog.format('%I.%I', hub, parent)::regclass
              AND NOT t.tgisinternal AND (t.tgtype & 32) <> 0 LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I.%I '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                                  trig.tgname, '{partitions}', part, trig.fn);
    END LOOP;
    RETURN part;
END;
$$
"""

# The upkeep: this month and the next `months_ahead` of every partitioned table of
# the hub's schema, idempotent. SECURITY DEFINER so the hub's role can run it (see the
# module docstring); a month whose lock is not had within lock_timeout is skipped with
# a warning and taken by the next run.
PG_ENSURE = r"""
CREATE OR REPLACE FUNCTION partitions_ensure(months_ahead integer DEFAULT 3)
RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET lock_timeout = '2s' AS $$
DECLARE
    parent text;
    this_month date := pg_catalog.date_trunc('month',
                           pg_catalog.now() AT TIME ZONE 'UTC')::date;
    made text;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 36 THEN
        RAISE EXCEPTION 'months_ahead must be 0..36, not %', months_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR parent IN SELECT c.relname FROM pg_catalog.pg_partitioned_table p
            JOIN pg_catalog.pg_class c ON c.oid = p.partrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = '{schema}' ORDER BY c.relname LOOP
        FOR i IN 0..months_ahead LOOP
            BEGIN
                made := {schema_q}.partitions_add_month(
                    parent, (this_month + pg_catalog.make_interval(months => i))::date);
            EXCEPTION WHEN lock_not_available THEN
                RAISE WARNING 'partition of % for month +% not made now: %', parent, i,
                              SQLERRM;
                made := NULL;
            END;
            IF made IS NOT NULL THEN
                RETURN NEXT made;
            END IF;
        END LOOP;
    END LOOP;
END;
$$
"""

PG_REFUSE_TRIGGERS = (
    "CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    "CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return  # the demo's SQLite keeps one plain table
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    op.execute("LOCK TABLE audit_records IN ACCESS EXCLUSIVE MODE")
    grants = _grants(conn)
    op.execute("ALTER TABLE audit_records RENAME TO audit_records_plain")
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {PARTITIONS}")
    op.execute(f"CREATE TABLE audit_records ({COLUMN_DDL}) PARTITION BY RANGE (at)")
    for statement in PG_REFUSE_TRIGGERS:
        op.execute(statement)
    _functions(schema)
    op.execute(f"CREATE TABLE {PARTITIONS}.audit_records_default "
               "PARTITION OF audit_records DEFAULT")
    op.execute(f"CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON "
               f"{PARTITIONS}.audit_records_default FOR EACH STATEMENT "
               "EXECUTE FUNCTION audit_refuse_change()")
    op.execute("SELECT partitions_add_month('audit_records', m::date) FROM (SELECT DISTINCT "
               "date_trunc('month', at AT TIME ZONE 'UTC') AS m FROM audit_records_plain) s")
    op.execute(f"SELECT partitions_ensure({MONTHS_AHEAD})")
    op.execute(f"INSERT INTO audit_records ({COLUMNS}) SELECT {COLUMNS} "  # noqa: S608 # nosec B608
               "FROM audit_records_plain ORDER BY seq")
    op.execute("DROP TABLE audit_records_plain")
    # keys and indexes after the copy: built once per partition, not row by row
    op.execute("ALTER TABLE audit_records ADD CONSTRAINT pk_audit_records "
               "PRIMARY KEY (seq, at)")
    op.execute("CREATE INDEX ix_audit_records_citizen_id_seq ON audit_records "
               "(citizen_id, seq)")
    op.execute("CREATE INDEX ix_audit_records_at ON audit_records (at)")
    _grant(grants)
    op.execute("ANALYZE audit_records")  # autovacuum never analyses a partitioned parent


def _functions(schema: str) -> None:
    names = {"{schema}": schema, "{schema_q}": f'"{schema}"', "{partitions}": PARTITIONS}
    for body in (PG_ADD_MONTH, PG_ENSURE):
        for placeholder, value in names.items():
            body = body.replace(placeholder, value)
        op.execute(body)
    op.execute("REVOKE EXECUTE ON FUNCTION partitions_add_month(text, date) FROM PUBLIC")


def _grants(conn: sa.Connection) -> list[tuple[str, str]]:
    """Who besides the owner holds what on audit_records, to hold it again after."""
    return [(row.grantee, row.privilege_type) for row in conn.execute(sa.text(
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = current_schema() AND table_name = 'audit_records' "
        "AND grantee <> (SELECT pg_get_userbyid(relowner) FROM pg_class "
        "WHERE oid = 'audit_records'::regclass)"))]


def _grant(grants: list[tuple[str, str]]) -> None:
    for grantee, privilege in grants:
        role = "PUBLIC" if grantee == "PUBLIC" else f'"{grantee}"'
        op.execute(f"GRANT {privilege} ON audit_records TO {role}")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    op.execute("LOCK TABLE audit_records IN ACCESS EXCLUSIVE MODE")
    grants = _grants(conn)
    op.execute(f"CREATE TABLE audit_records_plain ({COLUMN_DDL})")
    op.execute(f"INSERT INTO audit_records_plain ({COLUMNS}) SELECT {COLUMNS} "  # noqa: S608 # nosec B608
               "FROM audit_records ORDER BY seq")
    op.execute("DROP TABLE audit_records")
    op.execute("ALTER TABLE audit_records_plain RENAME TO audit_records")
    op.execute("ALTER TABLE audit_records ADD CONSTRAINT pk_audit_records PRIMARY KEY (seq)")
    op.execute("ALTER TABLE audit_records ADD CONSTRAINT uq_audit_records_hash UNIQUE (hash)")
    op.execute("CREATE INDEX ix_audit_records_citizen_id_seq ON audit_records "
               "(citizen_id, seq)")
    op.execute("CREATE INDEX ix_audit_records_at ON audit_records (at)")
    for statement in PG_REFUSE_TRIGGERS:
        op.execute(statement)
    op.execute("DROP FUNCTION IF EXISTS partitions_ensure(integer)")
    op.execute("DROP FUNCTION IF EXISTS partitions_add_month(text, date)")
    op.execute(f"DROP SCHEMA IF EXISTS {PARTITIONS}")  # RESTRICT: keeps anyone else's
    _grant(grants)
