"""Bulk jobs as the API, the CLI and the screens see them: start, follow, cancel, resume.

Each function works in the caller's session and never commits. Starting or resuming a
job sends its Celery task once the caller's transaction commits (`send=True`); the
task (`backend.bulk.tasks`) runs `backend.bulk.runner.run_job`, which does the work
batch by batch and checks, before every batch, that the job is still what was
approved. Failures of single rows are kept and served as CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from backend.approvals.canonical import canonical_json, payload_hash
from backend.approvals.service import require_admin
from backend.audit import record
from backend.auth.principal import Principal
from backend.bulk.models import ACTIVE, RESUMABLE, BulkJob, BulkJobFailure
from backend.db import rowcount
from backend.errors import ApiError
from backend.reasons import Reason

JOBS = BulkJob.__table__
FAILURE_COLUMNS = ("row", "key", "reason", "message")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_job(db: Session, kind: str, payload: dict[str, Any], *, total: int, unit: str,
               created_by: str, approval_id: int | None = None, send: bool = True,
               now: dt.datetime | None = None) -> BulkJob:
    """A queued job doing `kind` over `payload`; its task is sent after the commit."""
    now = now or utcnow()
    text = canonical_json(payload)
    job = BulkJob(kind=kind, approval_id=approval_id, payload=text,
                  payload_hash=payload_hash(text), status="queued", unit=unit, total=total,
                  done=0, failed=0, cursor=0, message="", created_by=created_by,
                  created_at=now, updated_at=now)
    db.add(job)
    db.flush()
    if send:
        queue(db, job.id)
    return job


def queue(db: Session, job_id: int) -> None:
    """Send the job's task once `db` commits (nothing is sent if it rolls back)."""
    from backend.bulk.tasks import run_job_task
    from backend.tasks import send_after_commit

    send_after_commit(db, run_job_task, job_id)


def get_job(db: Session, job_id: int) -> BulkJob:
    job = db.execute(select(BulkJob).where(BulkJob.id == job_id)
                     .execution_options(populate_existing=True)).scalar_one_or_none()
    if job is None:
        raise ApiError(Reason.NOT_FOUND, f"no bulk job {job_id}", 404)
    return job


def list_jobs(db: Session, *, status: str | None = None, kind: str | None = None,
              limit: int = 50, offset: int = 0) -> Sequence[BulkJob]:
    """Jobs still at work first, then the newest."""
    stmt = select(BulkJob)
    if status is not None:
        stmt = stmt.where(BulkJob.status == status)
    if kind is not None:
        stmt = stmt.where(BulkJob.kind == kind)
    active_first = case((BulkJob.status.in_(ACTIVE), 0), else_=1)
    stmt = stmt.order_by(active_first, BulkJob.id.desc()).limit(limit).offset(offset)
    return db.execute(stmt).scalars().all()


def job_for_approval(db: Session, approval_id: int) -> BulkJob | None:
    return db.execute(select(BulkJob).where(BulkJob.approval_id == approval_id)
                      .order_by(BulkJob.id.desc()).limit(1)).scalar_one_or_none()


def cancel_job(db: Session, job_id: int, principal: Principal | None,
               now: dt.datetime | None = None) -> BulkJob:
    """Stop a job: a queued one at once, a running one after the batch it is doing (it
    shows `cancelling` until then). What was done stays done; `resume_job` goes on."""
    require_admin(principal, "cancel jobs")
    now = now or utcnow()
    job = get_job(db, job_id)
    if job.status == "cancelling":
        return job
    changed = rowcount(db.execute(update(JOBS).where(JOBS.c.id == job_id,
                                                     JOBS.c.status.in_(("queued", "running")))
                                  .values(status=case((JOBS.c.status == "queued", "cancelled"),
                                                      else_="cancelling"),
                                          updated_at=now)))
    if changed != 1:
        raise ApiError(Reason.JOB_STATE_INVALID, f"this job is {job.status}; only a queued "
                       "or running job is cancelled", 409, {"status": job.status})
    job = get_job(db, job_id)
    _audit(db, "bulk.job.cancel", job, principal)
    return job


def resume_job(db: Session, job_id: int, principal: Principal | None, *, send: bool = True,
               now: dt.datetime | None = None) -> BulkJob:
    """Go on with a cancelled or failed job after its last committed batch; a queued or
    running job whose worker died is sent again (two runners take turns, batch by
    batch, so no row is done twice)."""
    require_admin(principal, "resume jobs")
    now = now or utcnow()
    job = get_job(db, job_id)
    if job.status not in (*RESUMABLE, "queued", "running"):
        raise ApiError(Reason.JOB_STATE_INVALID, f"this job is {job.status}; there is "
                       "nothing to resume", 409, {"status": job.status})
    if job.status in RESUMABLE:
        changed = rowcount(db.execute(update(JOBS).where(JOBS.c.id == job_id,
                                                         JOBS.c.status.in_(RESUMABLE))
                                      .values(status="queued", message="", updated_at=now)))
        if changed != 1:
            raise ApiError(Reason.JOB_STATE_INVALID, "this job changed meanwhile", 409)
    if send:
        queue(db, job_id)
    job = get_job(db, job_id)
    _audit(db, "bulk.job.resume", job, principal)
    return job


def failures(db: Session, job_id: int) -> Sequence[BulkJobFailure]:
    return db.execute(select(BulkJobFailure).where(BulkJobFailure.job_id == job_id)
                      .order_by(BulkJobFailure.row_no, BulkJobFailure.id)).scalars().all()


def failures_csv(db: Session, job_id: int, principal: Principal | None = None) -> str:
    """The rows a job could not do, as CSV (row, key, reason, message), audited."""
    job = get_job(db, job_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FAILURE_COLUMNS)
    for failure in failures(db, job_id):
        writer.writerow([failure.row_no, _cell(failure.row_key), failure.reason,
                         _cell(failure.message)])
    record(db, action="bulk.job.failures_read", subject_type="bulk_job",
           subject_id=str(job.id), principal=principal,
           details={"kind": job.kind, "failed": job.failed})
    return out.getvalue()


def _cell(text: str) -> str:
    """A value a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _audit(db: Session, action: str, job: BulkJob, principal: Principal | None) -> None:
    record(db, action=action, subject_type="bulk_job", subject_id=str(job.id),
           principal=principal, details={"kind": job.kind, "status": job.status,
                                         "processed": job.cursor, "total": job.total})
