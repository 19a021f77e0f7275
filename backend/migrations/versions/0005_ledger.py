"""ledger tables: purses, accounts, journal, grants, allocation runs, idempotency keys,
settlements, service facts; triggers that keep the journal balanced and immutable.

Revision ID: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")
IMMUTABLE = ("journal_entries", "journal_lines", "ledger_grants")
OWNER_ID = ("CASE WHEN owner_type IN ('citizen', 'household') "
            "THEN CAST(owner_ref AS BIGINT) END")


def _deferred_fk(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["journal_entries.id"], deferrable=True,
                                   initially="DEFERRED")


def upgrade() -> None:
    op.create_table(
        "ledger_purses",
        sa.Column("programme", sa.String(40), primary_key=True),
        sa.Column("purse", sa.String(40), primary_key=True),
        sa.Column("holder", sa.String(16), nullable=False),
        sa.Column("cashable", sa.Boolean(), nullable=False),
        sa.Column("carry_over", sa.Boolean(), nullable=False),
        sa.Column("categories", Json, nullable=True),
        sa.Column("expires_after_days", sa.Integer(), nullable=True),
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("programme", sa.String(40), nullable=False),
        sa.Column("purse", sa.String(40), nullable=False),
        sa.Column("owner_type", sa.String(16), nullable=False),
        sa.Column("owner_ref", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), sa.Computed(OWNER_ID, persisted=True)),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW,
                  nullable=False),
        sa.UniqueConstraint("programme", "purse", "owner_type", "owner_ref"),
        sa.CheckConstraint("allow_negative OR balance >= 0", name="balance_not_negative"),
        sa.CheckConstraint("owner_type IN ('citizen', 'household', 'terminal', 'programme')",
                           name="owner_type_known"),
        # Room on each page, so a balance update stays on its page (a HOT update: no
        # index entry to write) when a month's grants or redemptions land.
        postgresql_with={"fillfactor": 70},
    )
    op.create_index("ix_ledger_accounts_owner_id", "ledger_accounts",
                    ["programme", "purse", "owner_type", "owner_id"])
    op.create_table(
        "journal_entries",
        sa.Column("id", BigId, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("programme", sa.String(40), nullable=False),
        sa.Column("purse", sa.String(40), nullable=True),
        sa.Column("period", sa.String(16), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(120), nullable=True),
        sa.Column("citizen_id", sa.BigInteger(), nullable=True),
        sa.Column("details", Json, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW,
                  nullable=False),
    )
    op.create_index("ix_journal_entries_programme_created", "journal_entries",
                    ["programme", "created_at"])
    op.create_index("ix_journal_entries_terminal_created", "journal_entries",
                    ["terminal_id", "created_at"])
    op.create_index("ix_journal_entries_citizen_created", "journal_entries",
                    ["citizen_id", "created_at"])
    op.create_table(
        "journal_lines",
        sa.Column("entry_id", sa.BigInteger(), primary_key=True),
        sa.Column("line_no", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.BigInteger(), sa.ForeignKey("ledger_accounts.id"),
                  nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        _deferred_fk("entry_id"),
    )
    op.create_index("ix_journal_lines_account_entry", "journal_lines",
                    ["account_id", "entry_id"])
    op.create_table(
        "ledger_grants",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("programme", sa.String(40), nullable=False),
        sa.Column("purse", sa.String(40), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("beneficiary_type", sa.String(16), nullable=False),
        sa.Column("beneficiary_ref", sa.String(64), nullable=False),
        sa.Column("citizen_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        _deferred_fk("entry_id"),
        sa.UniqueConstraint("programme", "period", "beneficiary_type", "beneficiary_ref"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )
    op.create_index("ix_ledger_grants_entry", "ledger_grants", ["entry_id"])
    op.create_table(
        "ledger_allocation_runs",
        sa.Column("programme", sa.String(40), primary_key=True),
        sa.Column("purse", sa.String(40), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("granted", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "ledger_idempotency_keys",
        sa.Column("scope", sa.String(160), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", Json, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW,
                  nullable=False),
    )
    op.create_table(
        "ledger_settlements",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("programme", sa.String(40), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("redemptions", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW,
                  nullable=False),
        _deferred_fk("entry_id"),
        sa.UniqueConstraint("programme", "terminal_id", "day"),
    )
    op.create_table(
        "service_facts",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("programme", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("citizen_id", sa.BigInteger(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("terminal_id", sa.String(64), nullable=True),
        sa.Column("data", Json, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW,
                  nullable=False),
    )
    op.create_index("ix_service_facts_kind_citizen", "service_facts",
                    ["programme", "kind", "citizen_id", "occurred_on"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    op.execute("""
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger: % on % is not allowed (immutable)', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END $$""")
    for table in IMMUTABLE:
        op.execute(f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE OR TRUNCATE "
                   f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()")
    op.execute("""
CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total numeric; lines bigint;
BEGIN
  SELECT coalesce(sum(amount), 0), count(*) INTO total, lines
    FROM journal_lines WHERE entry_id = NEW.id;
  IF lines < 2 OR total <> 0 THEN
    RAISE EXCEPTION 'journal entry % is not balanced (% lines, sum %)', NEW.id, lines, total
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$""")
    op.execute("CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON "
               "journal_entries DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
               "EXECUTE FUNCTION journal_entry_balanced()")
    op.execute("""
CREATE FUNCTION journal_lines_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_lines n JOIN journal_entries e ON e.id = n.entry_id) THEN
    RAISE EXCEPTION 'lines may not join a journal entry already written'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$""")
    op.execute("CREATE TRIGGER journal_lines_closed AFTER INSERT ON journal_lines "
               "REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT "
               "EXECUTE FUNCTION journal_lines_closed()")
    op.execute("CREATE SEQUENCE journal_entry_ids")


def _sqlite_triggers() -> None:
    for table in IMMUTABLE:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'ledger: {event} on {table} is not "
                       f"allowed (immutable)'); END")
    op.execute("CREATE TRIGGER journal_lines_closed BEFORE INSERT ON journal_lines "
               "WHEN EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) "
               "BEGIN SELECT RAISE(ABORT, 'lines may not join a journal entry already "
               "written'); END")
    op.execute("CREATE TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries "
               "WHEN (SELECT count(*) FROM journal_lines WHERE entry_id = NEW.id) < 2 "
               "OR (SELECT coalesce(sum(amount), 0) FROM journal_lines "
               "WHERE entry_id = NEW.id) <> 0 "
               "BEGIN SELECT RAISE(ABORT, 'journal entry is not balanced'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS journal_entry_ids")
        op.execute("DROP TRIGGER IF EXISTS journal_lines_closed ON journal_lines")
        op.execute("DROP TRIGGER IF EXISTS journal_entries_balanced ON journal_entries")
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
    for table in ("service_facts", "ledger_settlements", "ledger_idempotency_keys",
                  "ledger_allocation_runs", "ledger_grants", "journal_lines",
                  "journal_entries", "ledger_accounts", "ledger_purses"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        for function in ("journal_lines_closed", "journal_entry_balanced",
                         "ledger_refuse_change"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
