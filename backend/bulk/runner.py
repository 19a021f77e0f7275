"""Running a bulk job: batch after batch, each its own transaction, checked every time.

A batch locks the job's row, checks that the job is still running and still what was
approved, does its rows, records their failures and moves the job's progress, then
commits: a reader sees the count advance with each batch, a cancel is seen before the
next one, and a job stopped anywhere (a cancel, a killed worker) goes on after its last
committed batch. Two runners of one job take turns on the row lock, so no row is done
twice.

The check before every batch is what makes the rule hold for the Celery task too: a
job that names an approval runs only while that approval is carried out with the same
payload hash; a job without one runs only if its kind would not need one.

Job kinds register here (JOB_KIND_MODULES, imported on first use): a kind gives its
rows and does a batch of them (`BatchKind`), or does the whole job itself and reports
its progress as it goes (`WholeKind`, for work that is all or nothing).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from backend.approvals.canonical import payload_hash
from backend.approvals.models import ApprovalRequest
from backend.auth.principal import Principal
from backend.bulk.models import BulkJob, BulkJobFailure
from backend.db import Database
from backend.reasons import Reason

log = logging.getLogger(__name__)
JOBS = BulkJob.__table__
FAILURES = BulkJobFailure.__table__
JOB_KIND_MODULES = ("backend.cards.bulk", "backend.bulk.registry_import")


@dataclass(frozen=True)
class Failure:
    """A row a batch could not do."""

    row: int  # 1-based position in the payload's rows, or a file's line
    key: str
    reason: Reason
    message: str


Row = tuple[int, Any]  # (1-based row number, the row)


@dataclass(frozen=True)
class BatchKind:
    name: str
    needs_approval: Callable[[dict[str, Any]], bool]
    rows: Callable[[dict[str, Any]], Sequence[Any]]
    # process(tx, job, payload, rows, principal) -> failures, in the batch's transaction.
    process: Callable[[Session, BulkJob, dict[str, Any], list[Row], Principal],
                      list[Failure]]


@dataclass(frozen=True)
class WholeKind:
    name: str
    needs_approval: Callable[[dict[str, Any]], bool]
    # run(database, job_id, principal): does the job, moving its row as it goes.
    run: Callable[[Database, int, Principal], None]


JOB_KINDS: dict[str, BatchKind | WholeKind] = {}


def register(kind: BatchKind | WholeKind) -> None:
    JOB_KINDS[kind.name] = kind


def job_kind(name: str) -> BatchKind | WholeKind:
    if name not in JOB_KINDS:
        for module in JOB_KIND_MODULES:
            importlib.import_module(module)
    return JOB_KINDS[name]


class JobRefused(Exception):
    """The job is not what was approved (or needs an approval it lacks): it stops."""

    def __init__(self, reason: Reason | StrEnum, message: str) -> None:
        """`reason` may be a programme module's own, passed on from its `ApiError`."""
        super().__init__(message)
        self.reason = reason
        self.message = message


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def worker_principal(job: BulkJob) -> Principal:
    """Whom the job acts for in the audit log: the admin who started it, at this job."""
    return Principal(kind="staff", subject=job.created_by, role="admin",
                     terminal_id=f"job:{job.id}")


def check_binding(db: Session, job: BulkJob) -> dict[str, Any]:
    """The job's payload, if the job may still run; else JobRefused."""
    if payload_hash(job.payload) != job.payload_hash:
        raise JobRefused(Reason.APPROVAL_MISMATCH, "the job's rows were altered after it "
                         "was started")
    payload = json.loads(job.payload)
    if job.approval_id is None:
        if job_kind(job.kind).needs_approval(payload):
            raise JobRefused(Reason.APPROVAL_REQUIRED, "this job needs a second admin's "
                             "approval and names none")
        return payload
    approval = db.get(ApprovalRequest, job.approval_id, populate_existing=True)
    if approval is None or approval.status != "carried_out" or approval.kind != job.kind:
        raise JobRefused(Reason.APPROVAL_NOT_APPROVED, f"approval {job.approval_id} was not "
                         "carried out as this job")
    if approval.payload_hash != job.payload_hash or \
            payload_hash(approval.payload) != approval.payload_hash:
        raise JobRefused(Reason.APPROVAL_MISMATCH, "this job is not what was approved")
    return payload


def lock_job(db: Session, job_id: int) -> BulkJob | None:
    return db.execute(select(BulkJob).where(BulkJob.id == job_id).with_for_update()
                      .execution_options(populate_existing=True)).scalar_one_or_none()


def set_status(db: Session, job: BulkJob, status: str, message: str | None = None,
               now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if message is not None:
        values["message"] = message
    if status == "running" and job.started_at is None:
        values["started_at"] = now
    if status in ("finished", "failed", "cancelled"):
        values["finished_at"] = now
    db.execute(update(JOBS).where(JOBS.c.id == job.id).values(**values))


def run_job(database: Database, job_id: int, *, batch: int) -> str:
    """Do a queued or running job to its end, a cancel, or a refusal; its last status."""
    with database.transaction() as tx:
        job = lock_job(tx, job_id)
        if job is None:
            return "missing"
        if job.status == "cancelling":
            set_status(tx, job, "cancelled")
            return "cancelled"
        if job.status not in ("queued", "running"):
            return job.status  # finished, failed or cancelled: resume_job re-queues it
        kind = job_kind(job.kind)
        principal = worker_principal(job)
        set_status(tx, job, "running")
    try:
        if isinstance(kind, WholeKind):
            with database.transaction() as tx:
                job = lock_job(tx, job_id)
                assert job is not None
                check_binding(tx, job)
            kind.run(database, job_id, principal)
            return _status(database, job_id)
        while True:
            with database.transaction() as tx:
                status = _one_batch(tx, job_id, kind, principal, batch)
            if status != "running":
                return status
    except JobRefused as refused:
        _fail(database, job_id, f"{refused.reason.value}: {refused.message}")
        return "failed"
    except Exception as exc:
        log.exception("bulk job %s failed", job_id)
        _fail(database, job_id, f"stopped by an error: {exc.__class__.__name__}: {exc}"[:2000])
        return "failed"


def _one_batch(tx: Session, job_id: int, kind: BatchKind, principal: Principal,
               batch: int) -> str:
    job = lock_job(tx, job_id)
    assert job is not None
    if job.status == "cancelling":
        set_status(tx, job, "cancelled")
        return "cancelled"
    if job.status != "running":
        return job.status
    payload = check_binding(tx, job)
    cursor = do_batch(tx, job, kind, payload, principal, batch)
    return "finished" if cursor >= job.total else "running"


def do_batch(tx: Session, job: BulkJob, kind: BatchKind, payload: dict[str, Any],
             principal: Principal, batch: int) -> int:
    """Do the next `batch` rows of `job` in `tx`, record failures, move the progress;
    the new cursor (rows handled so far)."""
    rows = kind.rows(payload)
    start = job.cursor
    chunk = [(start + offset + 1, row) for offset, row in
             enumerate(rows[start:start + batch])]
    failures = kind.process(tx, job, payload, chunk, principal) if chunk else []
    if failures:
        tx.execute(insert(FAILURES), [
            {"job_id": job.id, "row_no": f.row, "row_key": f.key[:64], "reason": f.reason.value,
             "message": f.message} for f in failures])
    cursor = start + len(chunk)
    now = utcnow()
    values: dict[str, Any] = {"cursor": cursor, "done": job.done + len(chunk) - len(failures),
                              "failed": job.failed + len(failures), "updated_at": now}
    if cursor >= job.total:
        values.update(status="finished", finished_at=now,
                      message=f"{values['done']} done, {values['failed']} failed")
    tx.execute(update(JOBS).where(JOBS.c.id == job.id).values(**values))
    return cursor


def run_here(tx: Session, job: BulkJob, *, batch: int) -> None:
    """Do a whole batch job inside the caller's transaction (a direct revocation of a
    few cards from a request or the console): same checks, same rows, one commit."""
    kind = job_kind(job.kind)
    assert isinstance(kind, BatchKind)
    principal = worker_principal(job)
    set_status(tx, job, "running")
    while True:
        current = lock_job(tx, job.id)
        assert current is not None
        payload = check_binding(tx, current)
        if current.cursor >= current.total:
            if current.status != "finished":
                set_status(tx, current, "finished", f"{current.done} done, "
                           f"{current.failed} failed")
            return
        do_batch(tx, current, kind, payload, principal, batch)


def _status(database: Database, job_id: int) -> str:
    with database.transaction() as tx:
        job = tx.get(BulkJob, job_id)
        return job.status if job is not None else "missing"


def _fail(database: Database, job_id: int, message: str) -> None:
    with database.transaction() as tx:
        job = lock_job(tx, job_id)
        if job is not None and job.status in ("queued", "running", "cancelling"):
            set_status(tx, job, "failed", message)
