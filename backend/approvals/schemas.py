"""What the API says about a request: its state, and what the caller may do with it.

`can_decide` and `cannot_decide` come from `service.decision_for`, the very check that
`approve` and `reject` make, so a screen that hides its buttons by them shows the
reason the server would give.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.api.routing import OutModel, StrictModel
from backend.approvals import service
from backend.approvals.kinds import get_kind
from backend.approvals.models import STATUSES, ApprovalRequest
from backend.auth.principal import Principal
from backend.bulk.models import BulkJob

ApprovalStatus = Literal[STATUSES]  # type: ignore[valid-type]


class Refusal(OutModel):
    reason: str
    message: str


class ApprovalOut(OutModel):
    id: int
    kind: str
    kind_title: str
    summary: str
    note: str
    status: ApprovalStatus
    maker: str
    maker_role: str
    assigned_to: str | None
    checker: str | None
    checker_role: str | None
    comment: str | None
    payload_sha256: str = Field(description="SHA-256 of the canonical JSON payload: what an "
                                "approval binds")
    created_at: dt.datetime
    expires_at: dt.datetime = Field(description="pending: by when it must be decided; "
                                    "approved: by when it must be carried out")
    decided_at: dt.datetime | None
    closed_at: dt.datetime | None
    carried_out_at: dt.datetime | None
    carried_out_by: str | None
    needs_second_person: bool = Field(description="pending: an admin other than the maker "
                                      "must approve or reject it")
    waiting_for: str | None = Field(description="who may decide it now, in words")
    can_decide: bool = Field(description="whether the caller may approve or reject it now")
    cannot_decide: Refusal | None = Field(description="why not (own_request, not_assignee, "
                                          "approval_not_pending, approval_expired, "
                                          "role_not_allowed)")
    can_cancel: bool = Field(description="the caller is its maker and it is not done")
    can_carry_out: bool = Field(description="approved, unexpired, and the caller an admin")
    job_id: int | None = Field(description="the bulk job carrying it out, if any")


class ApprovalDetail(ApprovalOut):
    payload: dict[str, Any]


class ApprovalList(OutModel):
    items: list[ApprovalOut]


class ApprovalQuery(StrictModel):
    status: ApprovalStatus | None = None
    kind: str | None = Field(None, max_length=40)
    maker: str | None = Field(None, max_length=64)
    assigned_to: str | None = Field(None, max_length=64)
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


class ApprovalIn(StrictModel):
    kind: str = Field(min_length=1, max_length=40, description="cards.revoke, "
                      "registry.import (a stored file), programme.change")
    payload: dict[str, Any]
    note: str = Field("", max_length=service.MAX_NOTE, description="why, for the approver")


class ApproveIn(StrictModel):
    comment: str = Field("", max_length=service.MAX_NOTE)


class RejectIn(StrictModel):
    comment: str = Field(min_length=1, max_length=service.MAX_NOTE,
                         description="why it is rejected (required)")


class CancelIn(StrictModel):
    comment: str = Field("", max_length=service.MAX_NOTE)


class AssignIn(StrictModel):
    to: str = Field(min_length=1, max_length=64, description="an enabled admin, not the maker")


class ImportQuery(StrictModel):
    name: str = Field("registry.csv", min_length=1, max_length=120,
                      description="the file's name, for the approver")
    note: str = Field("", max_length=service.MAX_NOTE)


def _waiting_for(row: ApprovalRequest) -> str | None:
    if row.status == "pending":
        return row.assigned_to or f"any admin other than {row.maker}"
    if row.status == "approved":
        return "an admin to carry it out"
    return None


def _jobs_of(db: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = db.execute(select(BulkJob.approval_id, func.max(BulkJob.id))
                      .where(BulkJob.approval_id.in_(ids)).group_by(BulkJob.approval_id))
    # The column may be NULL, but not in these rows: each matched one of `ids`.
    return {approval_id: job_id for approval_id, job_id in rows if approval_id is not None}


def view(row: ApprovalRequest, principal: Principal | None, job_id: int | None,
         *, detail: bool = False) -> ApprovalOut:
    """The request as `principal` sees it (what they may do with it, and why not)."""
    now = service.utcnow()
    verdict = service.decision_for(row, principal, now)
    admin = service.is_admin(principal)
    fields: dict[str, Any] = dict(
        id=row.id, kind=row.kind, kind_title=get_kind(row.kind).title, summary=row.summary,
        note=row.note, status=row.status, maker=row.maker, maker_role=row.maker_role,
        assigned_to=row.assigned_to, checker=row.checker, checker_role=row.checker_role,
        comment=row.comment, payload_sha256=row.payload_hash, created_at=row.created_at,
        expires_at=row.expires_at, decided_at=row.decided_at, closed_at=row.closed_at,
        carried_out_at=row.carried_out_at, carried_out_by=row.carried_out_by,
        needs_second_person=service.needs_second_person(row), waiting_for=_waiting_for(row),
        can_decide=verdict.allowed,
        cannot_decide=None if verdict.allowed else Refusal(reason=str(verdict.reason),
                                                           message=verdict.message),
        can_cancel=admin and principal is not None and principal.subject == row.maker
        and row.status in ("pending", "approved"),
        can_carry_out=admin and row.status == "approved"
        and service.as_utc(row.expires_at) > now,
        job_id=job_id)
    if detail:
        return ApprovalDetail(**fields, payload=service.payload_of(row))
    return ApprovalOut(**fields)


def views(db: Session, rows: Sequence[ApprovalRequest],
          principal: Principal | None) -> list[ApprovalOut]:
    jobs = _jobs_of(db, [row.id for row in rows])
    return [view(row, principal, jobs.get(row.id)) for row in rows]


def detail(db: Session, row: ApprovalRequest, principal: Principal | None) -> ApprovalOut:
    return view(row, principal, _jobs_of(db, [row.id]).get(row.id), detail=True)
