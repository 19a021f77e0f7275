"""Bulk jobs: long work done in batches by a Celery worker, with its progress and failures.

A job's row is its progress: each batch moves `cursor`, `done` and `failed` in the same
transaction as the batch's work, so a reader sees the count advance batch by batch, and
a job stopped anywhere (cancelled, a worker killed) resumes after its last committed
batch, never doing a row twice. What a job does is bound like an approval: `payload` is
canonical JSON and `payload_hash` its SHA-256, checked against the approval (if any)
before every batch.

    queued --> running --> finished | failed
    queued|running --cancel--> cancelling --(at the next batch)--> cancelled
    cancelled|cancelling|failed --resume--> queued
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

STATUSES = ("queued", "running", "cancelling", "cancelled", "finished", "failed")
ACTIVE = ("queued", "running", "cancelling")
RESUMABLE = ("cancelled", "cancelling", "failed")
UNITS = ("cards", "bytes")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


CHECKS = (
    ("status", _in("status", STATUSES)),
    ("unit", _in("unit", UNITS)),
    ("counts", "done >= 0 AND failed >= 0 AND cursor >= 0 AND total >= 0"),
    ("cursor_within_total", "cursor <= total"),
    ("finished_has_time", "status <> 'finished' OR finished_at IS NOT NULL"),
)


class BulkJob(Base):
    """One bulk job: what it does, how far it got, and who asked for it."""

    __tablename__ = "bulk_jobs"
    __table_args__ = (
        *(CheckConstraint(sql, name=name) for name, sql in CHECKS),
        Index("ix_bulk_jobs_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"),
                                                    index=True)
    payload: Mapped[str] = mapped_column(Text)
    payload_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    unit: Mapped[str] = mapped_column(String(8), default="cards")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # Rows handled so far (done or failed): the next batch starts here.
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class BulkJobFailure(Base):
    """A row a job could not do, and why (downloadable as CSV)."""

    __tablename__ = "bulk_job_failures"
    __table_args__ = (Index("ix_bulk_job_failures_job_row", "job_id", "row_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("bulk_jobs.id"))
    row_no: Mapped[int] = mapped_column(Integer)  # 1-based row of the payload, or file line
    row_key: Mapped[str] = mapped_column(String(64), default="")  # a serial, a column
    reason: Mapped[str] = mapped_column(String(40))  # a Reason value
    message: Mapped[str] = mapped_column(Text, default="")
