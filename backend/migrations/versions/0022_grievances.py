"""grievances: citizens' appeals against a refusal or a receipt.

One row per appeal (backend/grievances): whose, filed where and how, what it is about
(a refusal's reason, programme, action, terminal and time, or a ledger entry), the
citizen's own words, the due date from the city's service level, who it is assigned
to, and the outcome with the reason the citizen reads. A partial unique index keeps
one unresolved appeal per citizen and subject.

Revision ID: 0022
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
STATUSES = ("open", "assigned", "resolved")
CHANNELS = ("kiosk", "counter")
SUBJECTS = ("refusal", "receipt")
OUTCOMES = ("upheld", "not_upheld")
OPEN_WHERE = "status <> 'resolved'"

# Kept here as written, not imported: a migration must not change when the model does.
CHECKS = (
    ("status_known", f"status IN {STATUSES!r}"),
    ("channel_known", f"channel IN {CHANNELS!r}"),
    ("subject_known", f"subject_kind IN {SUBJECTS!r}"),
    ("outcome_known", f"outcome IS NULL OR outcome IN {OUTCOMES!r}"),
    ("refusal_shape", "subject_kind <> 'refusal' OR (refusal_reason IS NOT NULL AND "
                      "refused_at IS NOT NULL AND entry_id IS NULL)"),
    ("receipt_shape", "subject_kind <> 'receipt' OR (entry_id IS NOT NULL AND "
                      "refusal_reason IS NULL AND refused_at IS NULL)"),
    ("open_unassigned", "status <> 'open' OR (assignee IS NULL AND assigned_at IS NULL)"),
    ("assigned_named", "status = 'open' OR (assignee IS NOT NULL AND assigned_at IS NOT NULL "
                       "AND assigned_by IS NOT NULL)"),
    ("resolution_shape",
     "(status = 'resolved' AND outcome IS NOT NULL AND resolution IS NOT NULL AND "
     "length(resolution) > 0 AND resolved_at IS NOT NULL AND resolved_by IS NOT NULL) OR "
     "(status <> 'resolved' AND outcome IS NULL AND resolution IS NULL AND "
     "resolved_at IS NULL AND resolved_by IS NULL)"),
    ("words_bounded", "words IS NULL OR length(words) <= 500"),
    ("resolved_after_filed", "resolved_at IS NULL OR resolved_at >= filed_at"),
)


def upgrade() -> None:
    op.create_table(
        "grievances",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("citizen_id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("terminal_id", sa.String(64)),
        sa.Column("filed_by", sa.String(120), nullable=False),
        sa.Column("subject_kind", sa.String(8), nullable=False),
        sa.Column("subject_key", sa.String(200), nullable=False),
        sa.Column("refusal_reason", sa.String(64)),
        sa.Column("refusal_programme", sa.String(40)),
        sa.Column("refusal_action", sa.String(64)),
        sa.Column("refusal_terminal", sa.String(64)),
        sa.Column("refused_at", TS),
        sa.Column("entry_id", sa.BigInteger),
        sa.Column("words", sa.Text),
        sa.Column("status", sa.String(10), server_default="open", nullable=False),
        sa.Column("filed_at", TS, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("assignee", sa.String(64)),
        sa.Column("assigned_by", sa.String(64)),
        sa.Column("assigned_at", TS),
        sa.Column("outcome", sa.String(12)),
        sa.Column("resolution", sa.Text),
        sa.Column("resolved_by", sa.String(64)),
        sa.Column("resolved_at", TS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grievances")),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"],
                                name=op.f("fk_grievances_citizen_id_citizens")),
        *(sa.CheckConstraint(sql, name=op.f(f"ck_grievances_{name}")) for name, sql in CHECKS),
    )
    op.create_index("ix_grievances_citizen_id", "grievances", ["citizen_id"])
    op.create_index("ix_grievances_status_due_on", "grievances", ["status", "due_on"])
    op.create_index("ix_grievances_filed_at", "grievances", ["filed_at"])
    op.create_index("uq_grievances_open_subject", "grievances", ["citizen_id", "subject_key"],
                    unique=True, sqlite_where=sa.text(OPEN_WHERE),
                    postgresql_where=sa.text(OPEN_WHERE))


def downgrade() -> None:
    op.drop_table("grievances")
