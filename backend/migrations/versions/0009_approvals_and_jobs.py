"""approvals and bulk jobs: two-person requests in an order the database keeps, and the
progress and failures of bulk jobs.

`approval_requests` holds each state's shape in CHECK constraints (the checker is never
the maker, a decision names its checker and time, carrying out comes after the
decision). Triggers hold the order, on PostgreSQL and SQLite alike:
- a request is inserted pending, and never deleted;
- its status moves only pending -> approved | rejected | cancelled | expired and
  approved -> carried_out | cancelled | expired; nothing goes back, nothing skips;
- what was asked (kind, payload, hash, maker, time asked) never changes;
- a decision is final: checker, comment and decision time stay as decided, and a
  request is handed to an approver only while it is pending;
- a request that is rejected, cancelled, expired or carried out changes no more.

Revision ID: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
STATUSES = "('pending', 'approved', 'rejected', 'cancelled', 'expired', 'carried_out')"
FINAL = "('rejected', 'cancelled', 'expired', 'carried_out')"
ASKED = ("id", "kind", "payload", "payload_hash", "maker", "maker_role", "created_at")
DECIDED = ("checker", "checker_role", "comment", "decided_at", "assigned_to")

# Each (name, SQL) as in backend/approvals/models.py CHECKS.
APPROVAL_CHECKS = (
    ("status", f"status IN {STATUSES}"),
    ("hash_is_sha256", "length(payload_hash) = 64"),
    ("checker_is_not_maker", "checker IS NULL OR checker <> maker"),
    ("assignee_is_not_maker", "assigned_to IS NULL OR assigned_to <> maker"),
    ("decision_names_checker", "(checker IS NULL AND decided_at IS NULL) OR "
                               "(checker IS NOT NULL AND decided_at IS NOT NULL)"),
    ("decided_has_checker", "status NOT IN ('approved', 'rejected', 'carried_out') OR "
                            "checker IS NOT NULL"),
    ("pending_is_undecided", "status <> 'pending' OR (checker IS NULL AND closed_at IS NULL "
                             "AND carried_out_at IS NULL)"),
    ("rejection_has_comment", "status <> 'rejected' OR (comment IS NOT NULL AND "
                              "length(comment) > 0)"),
    ("closed_has_time", "(status IN ('cancelled', 'expired') AND closed_at IS NOT NULL) OR "
                        "(status NOT IN ('cancelled', 'expired') AND closed_at IS NULL)"),
    ("carried_out_after_decision",
     "(status = 'carried_out' AND carried_out_at IS NOT NULL AND carried_out_by IS NOT NULL "
     "AND decided_at IS NOT NULL AND carried_out_at >= decided_at) OR "
     "(status <> 'carried_out' AND carried_out_at IS NULL AND carried_out_by IS NULL)"),
    ("decided_after_asked", "decided_at IS NULL OR decided_at >= created_at"),
    ("closed_after_asked", "closed_at IS NULL OR closed_at >= created_at"),
    ("expires_after_asked", "expires_at > created_at"),
)
JOB_CHECKS = (
    ("status", "status IN ('queued', 'running', 'cancelling', 'cancelled', 'finished', "
               "'failed')"),
    ("unit", "unit IN ('cards', 'bytes')"),
    ("counts", "done >= 0 AND failed >= 0 AND cursor >= 0 AND total >= 0"),
    ("cursor_within_total", "cursor <= total"),
    ("finished_has_time", "status <> 'finished' OR finished_at IS NOT NULL"),
)
# (trigger suffix, when it refuses, what it says): the same rules for both databases.
# {old}/{new} are OLD/NEW; {differs} is "IS DISTINCT FROM" (PostgreSQL), "IS NOT" (SQLite).
RULES = (
    ("in_order",
     "{new}.status <> {old}.status AND NOT ("
     "({old}.status = 'pending' AND {new}.status IN "
     "('approved', 'rejected', 'cancelled', 'expired')) OR "
     "({old}.status = 'approved' AND {new}.status IN ('carried_out', 'cancelled', 'expired')))",
     "a request moves only pending -> approved|rejected|cancelled|expired and "
     "approved -> carried_out|cancelled|expired"),
    ("asked_is_fixed",
     " OR ".join(f"{{new}}.{c} {{differs}} {{old}}.{c}" for c in ASKED),
     "what was asked, by whom and when never changes"),
    ("decision_is_final",
     "{old}.status <> 'pending' AND (" + " OR ".join(
         f"{{new}}.{c} {{differs}} {{old}}.{c}" for c in DECIDED) + ")",
     "a decision is final, and only a pending request is handed over"),
    ("final_is_final", f"{{old}}.status IN {FINAL}",
     "a rejected, cancelled, expired or carried-out request changes no more"),
)


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("maker", sa.String(64), nullable=False),
        sa.Column("maker_role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("assigned_to", sa.String(64), nullable=True),
        sa.Column("checker", sa.String(64), nullable=True),
        sa.Column("checker_role", sa.String(16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("carried_out_at", TS, nullable=True),
        sa.Column("carried_out_by", sa.String(64), nullable=True),
        *(sa.CheckConstraint(sql, name=name) for name, sql in APPROVAL_CHECKS),
    )
    op.create_index("ix_approval_requests_status_created", "approval_requests",
                    ["status", "created_at"])
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("approval_id", sa.Integer(), sa.ForeignKey("approval_requests.id"),
                  nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("unit", sa.String(8), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        *(sa.CheckConstraint(sql, name=name) for name, sql in JOB_CHECKS),
    )
    op.create_index("ix_bulk_jobs_approval_id", "bulk_jobs", ["approval_id"])
    op.create_index("ix_bulk_jobs_status_created", "bulk_jobs", ["status", "created_at"])
    op.create_table(
        "bulk_job_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("bulk_jobs.id"), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("row_key", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_bulk_job_failures_job_row", "bulk_job_failures", ["job_id", "row_no"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _refusal(text: str) -> str:
    return f"approval request: {text}"


def _postgresql_triggers() -> None:
    checks = "\n".join(
        f"    IF {when.format(old='OLD', new='NEW', differs='IS DISTINCT FROM')} THEN\n"
        f"        RAISE EXCEPTION '{_refusal(text)} (request %)', OLD.id\n"
        f"            USING ERRCODE = 'check_violation';\n    END IF;"
        for _, when, text in RULES)
    op.execute(f"""
CREATE OR REPLACE FUNCTION approval_requests_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '{_refusal("requests are kept, never deleted")} (request %)', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' THEN
            RAISE EXCEPTION '{_refusal("a request starts pending")}'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
{checks}
    RETURN NEW;
END;
$$""")
    op.execute("CREATE TRIGGER approval_requests_order BEFORE INSERT OR UPDATE OR DELETE "
               "ON approval_requests FOR EACH ROW EXECUTE FUNCTION approval_requests_guard()")
    op.execute(f"""
CREATE OR REPLACE FUNCTION approval_requests_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{_refusal("requests are kept, never deleted")}'
        USING ERRCODE = 'check_violation';
END;
$$""")
    op.execute("CREATE TRIGGER approval_requests_no_truncate BEFORE TRUNCATE ON "
               "approval_requests FOR EACH STATEMENT EXECUTE FUNCTION "
               "approval_requests_refuse_truncate()")


def _sqlite_triggers() -> None:
    def trigger(name: str, event: str, when: str, text: str) -> None:
        op.execute(f"CREATE TRIGGER approval_requests_{name} BEFORE {event} ON "
                   f"approval_requests FOR EACH ROW WHEN {when} "
                   f"BEGIN SELECT RAISE(ABORT, '{_refusal(text)}'); END")

    trigger("starts_pending", "INSERT", "NEW.status <> 'pending'", "a request starts pending")
    trigger("never_deleted", "DELETE", "1", "requests are kept, never deleted")
    for name, when, text in RULES:
        trigger(name, "UPDATE", when.format(old="OLD", new="NEW", differs="IS NOT"), text)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS approval_requests_order ON approval_requests")
        op.execute("DROP TRIGGER IF EXISTS approval_requests_no_truncate ON approval_requests")
        op.execute("DROP FUNCTION IF EXISTS approval_requests_guard()")
        op.execute("DROP FUNCTION IF EXISTS approval_requests_refuse_truncate()")
    else:
        for name in ("starts_pending", "never_deleted", *(rule[0] for rule in RULES)):
            op.execute(f"DROP TRIGGER IF EXISTS approval_requests_{name}")
    op.drop_table("bulk_job_failures")
    op.drop_table("bulk_jobs")
    op.drop_table("approval_requests")
