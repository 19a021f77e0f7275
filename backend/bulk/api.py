"""Bulk endpoints: revoke many cards, and follow, cancel and resume bulk jobs.

Progress is the job's row, moved by every committed batch: poll GET /jobs/{id} (a
batch is 200 rows by default, well under two seconds). Failures of single rows are
served as CSV. Admins start, cancel and resume; auditors read.
"""

from __future__ import annotations

from typing import Annotated, Literal

from flask import Response
from pydantic import Field, StringConstraints

from backend.api.routing import MAX_INT, Api, OutModel, StrictModel
from backend.approvals import schemas as approval_schemas
from backend.approvals.schemas import ApprovalDetail
from backend.auth.principal import Principal, Requirement, current_principal
from backend.bulk import jobs
from backend.bulk.schemas import JobList, JobOut, JobQuery
from backend.cards import bulk as card_bulk
from backend.cards.lifecycle import REVOKE_REASONS
from backend.db import session
from backend.reasons import Reason as R

api = Api("bulk", tag="bulk jobs")

ADMIN = Requirement(roles=("admin",))
READERS = Requirement(roles=("admin", "auditor"))
Serial = Annotated[str, StringConstraints(min_length=1, max_length=24)]


def _caller() -> Principal:
    principal = current_principal()
    assert principal is not None
    return principal


class BulkRevokeIn(StrictModel):
    serials: list[Serial] = Field(min_length=1, max_length=card_bulk.MAX_SERIALS)
    reason: Literal[REVOKE_REASONS]  # type: ignore[valid-type]
    note: str = Field("", max_length=500)
    approval_id: int | None = Field(None, ge=1, le=MAX_INT, description="carry out this "
                                    "approved request: these must be exactly its cards, "
                                    "reason and note")


class BulkRevokeOut(OutModel):
    outcome: Literal["done", "awaiting_approval", "queued"] = Field(
        description="done: revoked now (at most APPROVAL_REVOKE_THRESHOLD cards); "
        "awaiting_approval: stored as a request a second admin must approve, nothing "
        "revoked; queued: the approved request is being carried out as a job")
    job: JobOut | None
    approval: ApprovalDetail | None


@api.route("/cards/bulk-revoke", "POST", summary="Revoke many cards (a second admin "
           "approves more than the threshold)", auth=ADMIN, body=BulkRevokeIn,
           response=BulkRevokeOut, status=202,
           reasons=(R.VALIDATION_FAILED, R.APPROVAL_NOT_APPROVED, R.APPROVAL_EXPIRED,
                    R.APPROVAL_MISMATCH, R.NOT_FOUND, R.SERVICE_UNAVAILABLE))
def bulk_revoke(body: BulkRevokeIn) -> BulkRevokeOut:
    """Up to APPROVAL_REVOKE_THRESHOLD cards (default 10) are revoked now, one CRL for
    all. More become a `cards.revoke` request (`outcome: awaiting_approval`); once
    another admin approves it, send the same body with `approval_id` (or POST
    /approvals/{id}/carry-out) and follow the job. Unknown or already revoked serials
    are failures of their row, listed in the job's failures CSV."""
    started = card_bulk.revoke_many(session(), list(body.serials), body.reason, _caller(),
                                    note=body.note, approval_id=body.approval_id)
    approval = (approval_schemas.detail(session(), started.approval, _caller())
                if started.approval is not None else None)
    return BulkRevokeOut(outcome=started.outcome,
                         job=JobOut.of(started.job) if started.job is not None else None,
                         approval=approval)


@api.route("/jobs", summary="Bulk jobs, those at work first", auth=READERS, query=JobQuery,
           response=JobList)
def list_jobs(query: JobQuery) -> JobList:
    found = jobs.list_jobs(session(), status=query.status, kind=query.kind,
                           limit=query.limit, offset=query.offset)
    return JobList(items=[JobOut.of(job) for job in found])


@api.route("/jobs/<int:job_id>", summary="A bulk job's progress", auth=READERS,
           response=JobOut, reasons=(R.NOT_FOUND,))
def show_job(job_id: int) -> JobOut:
    """`processed` of `total` moves with each committed batch; `updated_at` with it."""
    return JobOut.of(jobs.get_job(session(), job_id))


@api.route("/jobs/<int:job_id>/cancel", "POST", summary="Cancel a bulk job", auth=ADMIN,
           response=JobOut, reasons=(R.NOT_FOUND, R.JOB_STATE_INVALID))
def cancel_job(job_id: int) -> JobOut:
    """A queued job stops at once; a running one after its current batch (`cancelling`
    until then). What was done stays done."""
    return JobOut.of(jobs.cancel_job(session(), job_id, _caller()))


@api.route("/jobs/<int:job_id>/resume", "POST", summary="Resume a cancelled or failed job",
           auth=ADMIN, response=JobOut, status=202, reasons=(R.NOT_FOUND, R.JOB_STATE_INVALID))
def resume_job(job_id: int) -> JobOut:
    """It goes on after its last committed batch: no row is done twice."""
    return JobOut.of(jobs.resume_job(session(), job_id, _caller()))


@api.route("/jobs/<int:job_id>/failures.csv", summary="The rows a job could not do (CSV)",
           auth=READERS, content_type="text/csv", reasons=(R.NOT_FOUND,))
def job_failures(job_id: int) -> Response:
    """Columns: row (1-based, or the file's line), key (a serial, a column), reason (a
    reason code), message."""
    text = jobs.failures_csv(session(), job_id, _caller())
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="job-{job_id}-failures.csv"',
        "Cache-Control": "no-store"})
