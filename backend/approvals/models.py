"""Requests that need a second admin, as rows whose order the database enforces.

A request is what one admin (the maker) asks for, stored as canonical JSON with its
SHA-256; another admin (the checker) approves or rejects it; carrying it out is
refused unless it is approved and what is carried out hashes to what was approved.

    pending --approve--> approved --carry out--> carried_out
    pending --reject--> rejected
    pending|approved --withdrawn by the maker--> cancelled
    pending|approved --time--> expired       (time only ever expires: it never approves)

The CHECK constraints below hold each state's shape (an approval names its checker,
who is never the maker; carrying out comes after the decision). Triggers of migration
0009 hold the order: a request starts pending, moves only along the arrows above,
never changes what was asked or who asked it, and is never deleted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

STATUSES = ("pending", "approved", "rejected", "cancelled", "expired", "carried_out")
# Where each status may go next: the triggers of migration 0009 spell the same table.
NEXT = {
    "pending": ("approved", "rejected", "cancelled", "expired"),
    "approved": ("carried_out", "cancelled", "expired"),
}
OPEN_STATUSES = ("pending", "approved")
DECIDED = ("approved", "rejected", "carried_out")
CLOSED = ("cancelled", "expired")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# (name, SQL) of every CHECK on approval_requests; the migration creates the same list.
CHECKS = (
    ("status", _in("status", STATUSES)),
    ("hash_is_sha256", "length(payload_hash) = 64"),
    ("checker_is_not_maker", "checker IS NULL OR checker <> maker"),
    ("assignee_is_not_maker", "assigned_to IS NULL OR assigned_to <> maker"),
    ("decision_names_checker", "(checker IS NULL AND decided_at IS NULL) OR "
                               "(checker IS NOT NULL AND decided_at IS NOT NULL)"),
    ("decided_has_checker", f"status NOT IN {DECIDED!r} OR checker IS NOT NULL"),
    ("pending_is_undecided", "status <> 'pending' OR (checker IS NULL AND closed_at IS NULL "
                             "AND carried_out_at IS NULL)"),
    ("rejection_has_comment", "status <> 'rejected' OR (comment IS NOT NULL AND "
                              "length(comment) > 0)"),
    ("closed_has_time", f"({_in('status', CLOSED)} AND closed_at IS NOT NULL) OR "
                        f"(status NOT IN ('cancelled', 'expired') AND closed_at IS NULL)"),
    ("carried_out_after_decision",
     "(status = 'carried_out' AND carried_out_at IS NOT NULL AND carried_out_by IS NOT NULL "
     "AND decided_at IS NOT NULL AND carried_out_at >= decided_at) OR "
     "(status <> 'carried_out' AND carried_out_at IS NULL AND carried_out_by IS NULL)"),
    ("decided_after_asked", "decided_at IS NULL OR decided_at >= created_at"),
    ("closed_after_asked", "closed_at IS NULL OR closed_at >= created_at"),
    ("expires_after_asked", "expires_at > created_at"),
)


class ApprovalRequest(Base):
    """One request for something that can hurt many people at once."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        *(CheckConstraint(sql, name=name) for name, sql in CHECKS),
        Index("ix_approval_requests_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON (canonical.py)
    payload_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of `payload`, hex
    summary: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")  # the maker's why
    maker: Mapped[str] = mapped_column(String(64))  # staff username
    maker_role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    checker: Mapped[str | None] = mapped_column(String(64))
    checker_role: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    carried_out_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    carried_out_by: Mapped[str | None] = mapped_column(String(64))
