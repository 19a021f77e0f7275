"""Appeals: a citizen's request that a refusal or a receipt be looked at again.

    open --assign--> assigned --assign--> assigned --resolve--> resolved

An appeal is about one subject: a refusal as the screen showed it (its machine reason,
the programme and action, the terminal, the time) or a receipt (a ledger journal
entry of the citizen's own). While it is not resolved it is the only one about that
subject for that citizen: the partial unique index makes a second filing answer the
first instead of queueing a duplicate. The CHECK constraints below hold each state's
shape, so a resolved appeal always says how and why, and who decided.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

STATUSES = ("open", "assigned", "resolved")
CHANNELS = ("kiosk", "counter")
SUBJECTS = ("refusal", "receipt")
OUTCOMES = ("upheld", "not_upheld")
MAX_WORDS = 500  # the citizen's own words, at most
MAX_RESOLUTION = 1000  # the reason the citizen is given, at most
OPEN_WHERE = "status <> 'resolved'"

# (name, SQL) of every CHECK on grievances; migration 0022 creates the same list.
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
    ("words_bounded", f"words IS NULL OR length(words) <= {MAX_WORDS}"),
    ("resolved_after_filed", "resolved_at IS NULL OR resolved_at >= filed_at"),
)


class Grievance(Base):
    """One appeal, from filing to the answer the citizen reads at a kiosk."""

    __tablename__ = "grievances"
    __table_args__ = (
        *(CheckConstraint(sql, name=name) for name, sql in CHECKS),
        Index("uq_grievances_open_subject", "citizen_id", "subject_key", unique=True,
              sqlite_where=text(OPEN_WHERE), postgresql_where=text(OPEN_WHERE)),
        Index("ix_grievances_status_due_on", "status", "due_on"),
        Index("ix_grievances_filed_at", "filed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    terminal_id: Mapped[str | None] = mapped_column(String(64))  # where it was filed
    filed_by: Mapped[str] = mapped_column(String(120))  # card:<serial> or staff:<username>
    subject_kind: Mapped[str] = mapped_column(String(8))
    subject_key: Mapped[str] = mapped_column(String(200))  # one open appeal per key
    refusal_reason: Mapped[str | None] = mapped_column(String(64))
    refusal_programme: Mapped[str | None] = mapped_column(String(40))
    refusal_action: Mapped[str | None] = mapped_column(String(64))
    refusal_terminal: Mapped[str | None] = mapped_column(String(64))
    refused_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    entry_id: Mapped[int | None] = mapped_column(BigInteger)  # journal_entries.id
    words: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_on: Mapped[dt.date] = mapped_column(Date)  # the city's local date
    assignee: Mapped[str | None] = mapped_column(String(64))
    assigned_by: Mapped[str | None] = mapped_column(String(64))
    assigned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(12))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
