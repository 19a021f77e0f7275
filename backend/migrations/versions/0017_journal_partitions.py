"""ledger (PostgreSQL): the journal partitioned by month of its posting transaction.

`journal_entries` and `journal_lines` become tables partitioned by RANGE on a new
column, `posted_at`, one partition per UTC calendar month in the `partitions` schema
(`partitions.journal_entries_YYYY_MM`, `partitions.journal_lines_YYYY_MM`) plus a
DEFAULT partition each, made and kept ahead by the same upkeep as the audit log's
(migration 0016: partitions_add_month(), partitions_ensure(), `satukartu db
partitions`, the daily beat task).

Why a new column and why the transaction's time. A line is written before its entry
(the entry row closes it, and its balance is checked then), so a line cannot copy the
entry's `created_at`, which is the clock when the entry row is inserted. `posted_at`
is `now()`, the start of the transaction that posts the entry: every row written in
that transaction — the entry, its lines, an allocation's grants, a settlement — gets
the same value without the code naming it, so the rows of one posting always land in
the same month's partitions, and a key (id, posted_at) finds its partition directly.
Rows copied here take their entry's `created_at`. The models do not map the column
(backend.migrations.compare names it): nothing reads it but the database's own keys.

Integrity, and where it moved. A partitioned table's unique keys must hold its
partition key, so:
- the primary keys are now (id, posted_at) and (entry_id, line_no, posted_at). An entry
  id is unique because it comes from the sequence `journal_entry_ids` alone, as before;
  `satukartu ledger check` still finds a line without its entry or an entry that does
  not balance;
- the foreign keys to an entry are (entry_id, posted_at) from lines, and (entry_id,
  entry_posted_at) from grants and settlements, which gain that column (default now()
  too; copied rows take their entry's time). Still DEFERRABLE INITIALLY DEFERRED: a
  line, a grant or a settlement is written before its entry, in the same transaction;
- immutable: the statement triggers refusing UPDATE, DELETE and TRUNCATE stay on the
  parents; row triggers refusing UPDATE and DELETE are added on the parents, which
  PostgreSQL clones onto every partition, and partitions_add_month() copies the
  TRUNCATE trigger onto each partition it makes. The hub's role cannot name a
  partition (no USAGE on `partitions`), and its grants on the parents are carried
  across;
- the balance check (journal_entry_balanced) and the closed-entry check
  (journal_lines_closed) now look an entry's lines up by (entry_id, posted_at), one
  partition's index, instead of probing every month.

The rows are copied in one transaction holding ACCESS EXCLUSIVE locks on the four
tables; keys, indexes and triggers are made after the copy, once per partition.

Downgrade copies the journal back into plain tables with their former keys, foreign
keys and triggers, and drops the added columns.

Revision ID: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

PARTITIONS = "partitions"
MONTHS_AHEAD = 3
JOURNAL = ("journal_entries", "journal_lines")
REFERRING = ("ledger_grants", "ledger_settlements")  # their entry_id names an entry
ENTRY_COLUMNS = ("id, kind, programme, purse, period, amount, terminal_id, actor, "
                 "citizen_id, details, created_at")
LINE_COLUMNS = "entry_id, line_no, account_id, amount, balance_after"

INDEXES = (
    "CREATE INDEX ix_journal_entries_programme_created ON journal_entries "
    "(programme, created_at)",
    "CREATE INDEX ix_journal_entries_terminal_created ON journal_entries "
    "(terminal_id, created_at)",
    "CREATE INDEX ix_journal_entries_citizen_created ON journal_entries "
    "(citizen_id, created_at)",
    "CREATE INDEX ix_journal_lines_account_entry ON journal_lines (account_id, entry_id)",
)
ACCOUNT_FK = ("ALTER TABLE journal_lines ADD CONSTRAINT "
              "fk_journal_lines_account_id_ledger_accounts FOREIGN KEY (account_id) "
              "REFERENCES ledger_accounts (id)")

BALANCED = """
CREATE OR REPLACE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total numeric; lines bigint;
BEGIN
  SELECT coalesce(sum(amount), 0), count(*) INTO total, lines
    FROM journal_lines WHERE entry_id = NEW.id{posted};
  IF lines < 2 OR total <> 0 THEN
    RAISE EXCEPTION 'journal entry % is not balanced (% lines, sum %)', NEW.id, lines, total
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$"""
CLOSED = """
CREATE OR REPLACE FUNCTION journal_lines_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_lines n JOIN journal_entries e ON e.id = n.entry_id{posted})
  THEN
    RAISE EXCEPTION 'lines may not join a journal entry already written'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$"""
IMMUTABLE = (
    "CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON "
    "journal_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE TRIGGER journal_lines_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON "
    "journal_lines FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
)
CHECKS = (
    "CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced()",
    "CREATE TRIGGER journal_lines_closed AFTER INSERT ON journal_lines REFERENCING NEW "
    "TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION journal_lines_closed()",
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return  # the demo's SQLite keeps plain tables
    op.execute(f"LOCK TABLE {', '.join(JOURNAL + REFERRING)} IN ACCESS EXCLUSIVE MODE")
    grants = {table: _grants(conn, table) for table in JOURNAL}
    for table in REFERRING:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_entry_id_journal_entries")
    for table in JOURNAL:
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_plain")
        op.execute(f"CREATE TABLE {table} (LIKE {table}_plain INCLUDING DEFAULTS, "
                   "posted_at timestamptz NOT NULL DEFAULT now()) PARTITION BY RANGE (posted_at)")
        op.execute(f"CREATE TRIGGER {table}_immutable_rows BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()")
    for statement in IMMUTABLE:  # before the partitions, which copy its TRUNCATE part
        op.execute(statement)
    for table in JOURNAL:
        _default_partition(table)
    months = ("SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')::date "
              "FROM journal_entries_plain")
    for table in JOURNAL:
        op.execute(f"SELECT partitions_add_month('{table}', m) FROM ({months}) s(m)")  # noqa: S608 # nosec B608
    op.execute(f"SELECT partitions_ensure({MONTHS_AHEAD})")
    _copy_up()
    for table in reversed(JOURNAL):  # the lines' key names the entries
        op.execute(f"DROP TABLE {table}_plain")
    _keys(partitioned=True)
    for table in REFERRING:
        _entry_time_column(table)
    op.execute(BALANCED.format(posted=" AND posted_at = NEW.posted_at"))
    op.execute(CLOSED.format(posted=" AND e.posted_at = n.posted_at"))
    for statement in CHECKS:
        op.execute(statement)
    for table, held in grants.items():
        _grant(table, held)
    for table in JOURNAL:
        op.execute(f"ANALYZE {table}")  # autovacuum never analyses a partitioned parent


def _default_partition(table: str) -> None:
    op.execute(f"CREATE TABLE {PARTITIONS}.{table}_default PARTITION OF {table} DEFAULT")
    op.execute(f"CREATE TRIGGER {table}_immutable BEFORE TRUNCATE ON "
               f"{PARTITIONS}.{table}_default FOR EACH STATEMENT "
               "EXECUTE FUNCTION ledger_refuse_change()")


def _copy_up() -> None:
    op.execute(f"INSERT INTO journal_entries ({ENTRY_COLUMNS}, posted_at) "  # noqa: S608 # nosec B608
               f"SELECT {ENTRY_COLUMNS}, created_at FROM journal_entries_plain")
    lines = ", ".join(f"l.{column.strip()}" for column in LINE_COLUMNS.split(","))
    op.execute(f"INSERT INTO journal_lines ({LINE_COLUMNS}, posted_at) "  # noqa: S608 # nosec B608
               f"SELECT {lines}, e.created_at FROM journal_lines_plain l "
               "JOIN journal_entries_plain e ON e.id = l.entry_id")


def _keys(*, partitioned: bool) -> None:
    """Primary keys, indexes and foreign keys of the journal, made after its rows."""
    posted = ", posted_at" if partitioned else ""
    op.execute(f"ALTER TABLE journal_entries ADD CONSTRAINT pk_journal_entries "
               f"PRIMARY KEY (id{posted})")
    op.execute(f"ALTER TABLE journal_lines ADD CONSTRAINT pk_journal_lines "
               f"PRIMARY KEY (entry_id, line_no{posted})")
    for statement in (*INDEXES, ACCOUNT_FK):
        op.execute(statement)
    if partitioned:
        op.execute("ALTER TABLE journal_lines ADD CONSTRAINT fk_journal_lines_entry "
                   "FOREIGN KEY (entry_id, posted_at) REFERENCES journal_entries (id, posted_at) "
                   "DEFERRABLE INITIALLY DEFERRED")
    else:
        op.execute("ALTER TABLE journal_lines ADD CONSTRAINT "
                   "fk_journal_lines_entry_id_journal_entries FOREIGN KEY (entry_id) "
                   "REFERENCES journal_entries (id) DEFERRABLE INITIALLY DEFERRED")


def _entry_time_column(table: str) -> None:
    """`entry_posted_at` on a table whose rows name an entry, filled from the entries
    (grants are immutable: their trigger is set aside for this one UPDATE), then its
    foreign key."""
    op.execute(f"ALTER TABLE {table} ADD COLUMN entry_posted_at timestamptz")
    immutable = table == "ledger_grants"
    if immutable:
        op.execute("ALTER TABLE ledger_grants DISABLE TRIGGER ledger_grants_immutable")
    op.execute(f"UPDATE {table} t SET entry_posted_at = e.posted_at FROM journal_entries e "  # noqa: S608 # nosec B608
               "WHERE e.id = t.entry_id")
    if immutable:
        op.execute("ALTER TABLE ledger_grants ENABLE TRIGGER ledger_grants_immutable")
        op.execute("ALTER TABLE ledger_grants ALTER COLUMN entry_posted_at SET NOT NULL")
    op.execute(f"ALTER TABLE {table} ALTER COLUMN entry_posted_at SET DEFAULT now()")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_entry FOREIGN KEY "
               "(entry_id, entry_posted_at) REFERENCES journal_entries (id, posted_at) "
               "DEFERRABLE INITIALLY DEFERRED")


def _grants(conn: sa.Connection, table: str) -> list[tuple[str, str]]:
    """Who besides the owner holds what on `table`, to hold it again after."""
    return [(row.grantee, row.privilege_type) for row in conn.execute(sa.text(
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = current_schema() AND table_name = :table "
        "AND grantee <> (SELECT pg_get_userbyid(relowner) FROM pg_class "
        "WHERE oid = CAST(:table AS regclass))"), {"table": table})]


def _grant(table: str, grants: list[tuple[str, str]]) -> None:
    for grantee, privilege in grants:
        role = "PUBLIC" if grantee == "PUBLIC" else f'"{grantee}"'
        op.execute(f"GRANT {privilege} ON {table} TO {role}")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    op.execute(f"LOCK TABLE {', '.join(JOURNAL + REFERRING)} IN ACCESS EXCLUSIVE MODE")
    grants = {table: _grants(conn, table) for table in JOURNAL}
    for table in REFERRING:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_entry")
        op.execute(f"ALTER TABLE {table} DROP COLUMN entry_posted_at")
    for table in JOURNAL:
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_parted")
        op.execute(f"CREATE TABLE {table} (LIKE {table}_parted INCLUDING DEFAULTS)")
        op.execute(f"ALTER TABLE {table} DROP COLUMN posted_at")
    op.execute(f"INSERT INTO journal_entries ({ENTRY_COLUMNS}) "  # noqa: S608 # nosec B608
               f"SELECT {ENTRY_COLUMNS} FROM journal_entries_parted")
    op.execute(f"INSERT INTO journal_lines ({LINE_COLUMNS}) "  # noqa: S608 # nosec B608
               f"SELECT {LINE_COLUMNS} FROM journal_lines_parted")
    for table in reversed(JOURNAL):
        op.execute(f"DROP TABLE {table}_parted")  # and its partitions
    _keys(partitioned=False)
    for table in REFERRING:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_entry_id_journal_entries "
                   "FOREIGN KEY (entry_id) REFERENCES journal_entries (id) "
                   "DEFERRABLE INITIALLY DEFERRED")
    op.execute(BALANCED.format(posted=""))
    op.execute(CLOSED.format(posted=""))
    for statement in (*IMMUTABLE, *CHECKS):
        op.execute(statement)
    for table, held in grants.items():
        _grant(table, held)
