"""terminals (PostgreSQL): a change that can refuse a terminal is announced as it commits.

Each hub process remembers the terminal rows its card challenges read and forgets one
when it hears of its change on the `satukartu_terminals` channel
(backend/identity/terminal_rows.py). A change of the kind, the enabled flag or the token
generation, or a deletion, sends the terminal's id, and a TRUNCATE an empty payload
(forget them all); the frequent write of `last_token_at` sends nothing. NOTIFY is
delivered only when the transaction commits, and never for one rolled back. Triggers
do not fire under `session_replication_role = replica` (pg_restore, logical
replication's apply): a hub serving through such a change is restarted, or waits out
the rows' longest age (`MAX_AGE`).

Revision ID: 0025
Revises: 0024
"""
from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION terminals_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_catalog.pg_notify('satukartu_terminals', '');
    ELSE
        PERFORM pg_catalog.pg_notify('satukartu_terminals', OLD.id);
    END IF;
    RETURN NULL;
END;
$$
"""
CHANGED = ("OLD.kind IS DISTINCT FROM NEW.kind OR OLD.enabled IS DISTINCT FROM NEW.enabled "
           "OR OLD.token_generation IS DISTINCT FROM NEW.token_generation "
           "OR OLD.id IS DISTINCT FROM NEW.id")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute("CREATE TRIGGER terminals_announce_change AFTER UPDATE ON terminals "
               f"FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION terminals_announce()")
    op.execute("CREATE TRIGGER terminals_announce_delete AFTER DELETE ON terminals "
               "FOR EACH ROW EXECUTE FUNCTION terminals_announce()")
    op.execute("CREATE TRIGGER terminals_announce_truncate AFTER TRUNCATE ON terminals "
               "FOR EACH STATEMENT EXECUTE FUNCTION terminals_announce()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER terminals_announce_truncate ON terminals")
    op.execute("DROP TRIGGER terminals_announce_delete ON terminals")
    op.execute("DROP TRIGGER terminals_announce_change ON terminals")
    op.execute("DROP FUNCTION terminals_announce()")
