"""Approval endpoints: ask, list, show, approve, reject, withdraw, hand over, carry out.

Admins ask and decide; auditors read. Every rule is in `backend.approvals.service`
(the maker never decides their own request, whoever they are); these views only
translate HTTP to it.
"""

from __future__ import annotations

from flask import request

from backend.api.routing import Api, OutModel
from backend.approvals import schemas, service
from backend.approvals.schemas import (
    ApprovalDetail,
    ApprovalIn,
    ApprovalList,
    ApprovalOut,
    ApprovalQuery,
    ApproveIn,
    AssignIn,
    CancelIn,
    ImportQuery,
    RejectIn,
)
from backend.auth.principal import Principal, Requirement, current_principal
from backend.bulk.schemas import JobOut
from backend.db import session
from backend.errors import ApiError
from backend.reasons import Reason as R

api = Api("approvals", url_prefix="/approvals", tag="approvals")

ADMIN = Requirement(roles=("admin",))
READERS = Requirement(roles=("admin", "auditor"))
DECIDE_REFUSALS = (R.NOT_FOUND, R.OWN_REQUEST, R.NOT_ASSIGNEE, R.APPROVAL_NOT_PENDING,
                   R.APPROVAL_EXPIRED)
CARRY_OUT_REFUSALS = (R.NOT_FOUND, R.APPROVAL_NOT_APPROVED, R.APPROVAL_EXPIRED,
                      R.APPROVAL_MISMATCH, R.SERVICE_UNAVAILABLE, R.VALIDATION_FAILED)


def _caller() -> Principal:
    principal = current_principal()
    assert principal is not None
    return principal


def _detail(request_id: int) -> ApprovalOut:
    return schemas.detail(session(), service.get_request(session(), request_id), _caller())


@api.route("", "POST", summary="Ask for something that needs a second admin", auth=ADMIN,
           body=ApprovalIn, response=ApprovalDetail, status=201,
           reasons=(R.UNKNOWN_APPROVAL_KIND, R.VALIDATION_FAILED))
def create_request(body: ApprovalIn) -> tuple[ApprovalOut, int]:
    """Kinds: `cards.revoke` {serials, reason, note}; `programme.change` {key,
    enabled, parameters}; `registry.import` {sha256, name, bytes, lines} of a file stored
    by POST /approvals/registry-import. The request is pending until another admin
    decides it: `needs_second_person` is true."""
    row = service.request_approval(session(), body.kind, body.payload, _caller(),
                                   note=body.note)
    return schemas.detail(session(), row, _caller()), 201


@api.route("/registry-import", "POST", summary="Store a registry CSV file and ask to import "
           "it", auth=ADMIN, query=ImportQuery, response=ApprovalDetail, status=201,
           reasons=(R.UNSUPPORTED_MEDIA_TYPE, R.VALIDATION_FAILED, R.PAYLOAD_TOO_LARGE))
def request_registry_import(query: ImportQuery) -> tuple[ApprovalOut, int]:
    """Send the file as the body (`Content-Type: text/csv`, at most 4 MiB here; larger
    files: `satukartu approval request-import`). It is kept under its SHA-256; the
    approval binds that hash, and carrying it out hashes the file again."""
    from backend.bulk import registry_import

    if request.mimetype != "text/csv":
        raise ApiError(R.UNSUPPORTED_MEDIA_TYPE, "send the registry file as text/csv", 415)
    row = registry_import.request_import(session(), request.stream, query.name, _caller(),
                                         note=query.note)
    return schemas.detail(session(), row, _caller()), 201


@api.route("", summary="Requests, pending first", auth=READERS, query=ApprovalQuery,
           response=ApprovalList)
def list_requests(query: ApprovalQuery) -> ApprovalList:
    rows = service.list_requests(session(), status=query.status, kind=query.kind,
                                 maker=query.maker, assigned_to=query.assigned_to,
                                 limit=query.limit, offset=query.offset)
    return ApprovalList(items=schemas.views(session(), rows, _caller()))


@api.route("/<int:request_id>", summary="One request, with what the caller may do",
           auth=READERS, response=ApprovalDetail, reasons=(R.NOT_FOUND,))
def show_request(request_id: int) -> ApprovalOut:
    """`can_decide` false comes with `cannot_decide` {reason, message}: a screen hides
    its approve and reject buttons and shows that message instead."""
    return _detail(request_id)


@api.route("/<int:request_id>/approve", "POST", summary="Approve another admin's request",
           auth=ADMIN, body=ApproveIn, response=ApprovalDetail, reasons=DECIDE_REFUSALS)
def approve(request_id: int, body: ApproveIn) -> ApprovalOut:
    """Refused `own_request` (403) to its maker, admin or not; `not_assignee` (403) when
    handed to someone else; `approval_not_pending` or `approval_expired` (409)."""
    service.approve(session(), request_id, _caller(), body.comment)
    return _detail(request_id)


@api.route("/<int:request_id>/reject", "POST", summary="Reject another admin's request",
           auth=ADMIN, body=RejectIn, response=ApprovalDetail, reasons=DECIDE_REFUSALS)
def reject(request_id: int, body: RejectIn) -> ApprovalOut:
    service.reject(session(), request_id, _caller(), body.comment)
    return _detail(request_id)


@api.route("/<int:request_id>/cancel", "POST", summary="Withdraw your own request",
           auth=ADMIN, body=CancelIn, response=ApprovalDetail,
           reasons=(R.NOT_FOUND, R.NOT_MAKER, R.APPROVAL_NOT_PENDING))
def cancel(request_id: int, body: CancelIn) -> ApprovalOut:
    service.cancel(session(), request_id, _caller(), body.comment)
    return _detail(request_id)


@api.route("/<int:request_id>/assign", "POST", summary="Hand a pending request to an admin",
           auth=ADMIN, body=AssignIn, response=ApprovalDetail,
           reasons=(R.NOT_FOUND, R.ASSIGNEE_INVALID, R.APPROVAL_NOT_PENDING))
def assign(request_id: int, body: AssignIn) -> ApprovalOut:
    """Only that admin may decide it then. Never its maker (`assignee_invalid`)."""
    service.assign(session(), request_id, _caller(), body.to)
    return _detail(request_id)


class CarriedOutOut(OutModel):
    approval: ApprovalDetail
    job: JobOut | None
    message: str


@api.route("/<int:request_id>/carry-out", "POST", summary="Carry out an approved request",
           auth=ADMIN, response=CarriedOutOut, status=202, reasons=CARRY_OUT_REFUSALS)
def carry_out(request_id: int) -> CarriedOutOut:
    """Exactly what was approved: the stored request must still hash to the approved
    SHA-256 (`approval_mismatch`). Bulk work is queued as a job (follow it at
    /jobs/{id}); a programme change is made in this request."""
    from backend.bulk import jobs

    _, done = service.carry_out(session(), request_id, _caller())
    job = jobs.get_job(session(), done.job_id) if done.job_id is not None else None
    approval = _detail(request_id)
    assert isinstance(approval, ApprovalDetail)
    return CarriedOutOut(approval=approval, job=JobOut.of(job) if job else None,
                         message=done.message)
