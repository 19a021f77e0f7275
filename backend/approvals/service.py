"""Two-person approval: ask, decide, hand over, withdraw, expire and carry out.

These functions are the rule; the API, the CLI and the Celery tasks all call them, and
the screens only show what `decision_for` says. Each takes the caller's session and
never commits: the caller's transaction holds the change and its audit record.

Every state change is a compare-and-set UPDATE (`... WHERE status = 'pending'`), so
two admins deciding at once cannot both win, and the database's CHECK constraints and
triggers (migration 0009) refuse what the code would never try: a checker who is the
maker, a step out of order, a change to what was asked.

Who may do what:
- ask: an admin (`request_approval`);
- approve or reject: an admin who is not the maker, and the assignee if the request
  was handed to one (`approve`, `reject`); admins are not exempt, and there is no
  other way to approve: expiry only ever expires;
- hand over: an admin, to an enabled admin who is not the maker (`assign`);
- withdraw: the maker, before it is carried out (`cancel`);
- carry out: an admin, only an approved, unexpired request, and only the very payload
  that was approved (`carry_out`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from backend.approvals.canonical import canonical_json, hash_of, payload_hash
from backend.approvals.kinds import CarriedOut, get_kind
from backend.approvals.models import OPEN_STATUSES, ApprovalRequest
from backend.audit import record
from backend.auth.principal import Principal
from backend.db import rowcount
from backend.errors import ApiError
from backend.reasons import Reason

TABLE = ApprovalRequest.__table__
MAX_NOTE = 2000
STATUS_OF = {Reason.ROLE_NOT_ALLOWED: 403, Reason.OWN_REQUEST: 403, Reason.NOT_ASSIGNEE: 403,
             Reason.APPROVAL_NOT_PENDING: 409, Reason.APPROVAL_EXPIRED: 409}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without their zone; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Verdict:
    """Whether a caller may do something now, and if not, the reason and plain words."""

    allowed: bool
    reason: Reason | None = None
    message: str = ""

    def refuse(self) -> None:
        if not self.allowed:
            assert self.reason is not None
            raise ApiError(self.reason, self.message, STATUS_OF.get(self.reason, 409))


ALLOWED = Verdict(True)


def _expiry() -> dt.timedelta:
    return dt.timedelta(days=current_app.config["APPROVAL_EXPIRY_DAYS"])


def is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.kind == "staff" and principal.role == "admin"


def require_admin(principal: Principal | None, doing: str) -> Principal:
    if principal is None or not is_admin(principal):
        role = principal.role if principal is not None else "nobody"
        raise ApiError(Reason.ROLE_NOT_ALLOWED, f"only an admin may {doing} (not {role})", 403)
    return principal


def _refuse_text(value: str, what: str) -> str:
    if len(value) > MAX_NOTE:
        raise ApiError(Reason.VALIDATION_FAILED, f"the {what} is longer than {MAX_NOTE} "
                       "characters", 422)
    return value.strip()


# --- asking ------------------------------------------------------------------------------


def request_approval(db: Session, kind: str, payload: Any, principal: Principal, *,
                     note: str = "", now: dt.datetime | None = None) -> ApprovalRequest:
    """Store `principal`'s request for `kind` with `payload`: pending a second admin.

    The payload is checked and normalised by its kind and kept as canonical JSON with
    its SHA-256, which is what an approval binds.
    """
    require_admin(principal, "ask for this")
    found = get_kind(kind)
    normal = found.normalise(payload)
    text = canonical_json(normal)
    now = now or utcnow()
    row = ApprovalRequest(kind=found.name, payload=text, payload_hash=payload_hash(text),
                          summary=found.describe(normal), note=_refuse_text(note, "note"),
                          maker=principal.subject, maker_role=principal.role or "",
                          status="pending", created_at=now, expires_at=now + _expiry())
    db.add(row)
    db.flush()
    _audit(db, "approval.request", row, principal, summary=row.summary)
    return row


def get_request(db: Session, request_id: int) -> ApprovalRequest:
    """The request with this id, as the database has it now, or a 404 refusal."""
    row = db.execute(select(ApprovalRequest).where(ApprovalRequest.id == request_id)
                     .execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None:
        raise ApiError(Reason.NOT_FOUND, f"no approval request {request_id}", 404)
    return row


def list_requests(db: Session, *, status: str | None = None, kind: str | None = None,
                  maker: str | None = None, assigned_to: str | None = None,
                  limit: int = 50, offset: int = 0) -> Sequence[ApprovalRequest]:
    """Requests, pending ones first (oldest waiting first), then the newest of the rest."""
    stmt = select(ApprovalRequest)
    for column, value in ((ApprovalRequest.status, status), (ApprovalRequest.kind, kind),
                          (ApprovalRequest.maker, maker),
                          (ApprovalRequest.assigned_to, assigned_to)):
        if value is not None:
            stmt = stmt.where(column == value)
    pending_first = case((ApprovalRequest.status == "pending", 0), else_=1)
    waiting = case((ApprovalRequest.status == "pending", ApprovalRequest.id), else_=0)
    stmt = stmt.order_by(pending_first, waiting, ApprovalRequest.id.desc())
    return db.execute(stmt.limit(limit).offset(offset)).scalars().all()


def payload_of(row: ApprovalRequest) -> dict[str, Any]:
    return json.loads(row.payload)


# --- deciding ----------------------------------------------------------------------------


def needs_second_person(row: ApprovalRequest) -> bool:
    """A pending request waits for an admin other than its maker; nothing else moves it."""
    return row.status == "pending"


def decision_for(row: ApprovalRequest, principal: Principal | None,
                 now: dt.datetime | None = None) -> Verdict:
    """May `principal` approve or reject `row` now? If not, the reason a screen shows
    (and the refusal `approve` and `reject` give): role_not_allowed, approval_not_pending,
    approval_expired, own_request, not_assignee."""
    now = now or utcnow()
    if not is_admin(principal):
        return Verdict(False, Reason.ROLE_NOT_ALLOWED, "only an admin decides requests")
    assert principal is not None
    if row.status != "pending":
        return Verdict(False, Reason.APPROVAL_NOT_PENDING,
                       f"this request is {row.status.replace('_', ' ')}, not pending")
    if as_utc(row.expires_at) <= now:
        return Verdict(False, Reason.APPROVAL_EXPIRED, "this request waited too long and "
                       "has expired; ask again")
    if principal.subject == row.maker:
        return Verdict(False, Reason.OWN_REQUEST, "you asked for this, so another admin "
                       "must approve or reject it")
    if row.assigned_to is not None and principal.subject != row.assigned_to:
        return Verdict(False, Reason.NOT_ASSIGNEE, f"this request was handed to "
                       f"{row.assigned_to}; only they decide it now")
    return ALLOWED


def approve(db: Session, request_id: int, principal: Principal, comment: str = "",
            now: dt.datetime | None = None) -> ApprovalRequest:
    """A second admin approves: the request may then be carried out, exactly as asked,
    within APPROVAL_EXPIRY_DAYS."""
    return _decide(db, request_id, principal, "approved", comment, now)


def reject(db: Session, request_id: int, principal: Principal, comment: str,
           now: dt.datetime | None = None) -> ApprovalRequest:
    """A second admin rejects, saying why (the comment is required): it is never done."""
    if not comment.strip():
        raise ApiError(Reason.VALIDATION_FAILED, "a rejection says why: write a comment", 422)
    return _decide(db, request_id, principal, "rejected", comment, now)


def _decide(db: Session, request_id: int, principal: Principal, status: str, comment: str,
            now: dt.datetime | None) -> ApprovalRequest:
    now = now or utcnow()
    comment = _refuse_text(comment, "comment")
    row = get_request(db, request_id)
    decision_for(row, principal, now).refuse()
    values: dict[str, Any] = {"status": status, "checker": principal.subject,
                              "checker_role": principal.role, "comment": comment,
                              "decided_at": now}
    if status == "approved":  # the time to carry it out starts now
        values["expires_at"] = now + _expiry()
    changed = rowcount(db.execute(
        update(TABLE).where(TABLE.c.id == request_id, TABLE.c.status == "pending",
                            TABLE.c.maker != principal.subject, TABLE.c.expires_at > now,
                            (TABLE.c.assigned_to.is_(None))
                            | (TABLE.c.assigned_to == principal.subject))
        .values(**values)))
    row = get_request(db, request_id)
    if changed != 1:  # someone decided, withdrew or re-assigned it meanwhile
        decision_for(row, principal, now).refuse()
        raise ApiError(Reason.APPROVAL_NOT_PENDING, "this request changed meanwhile", 409)
    _audit(db, f"approval.{'approve' if status == 'approved' else 'reject'}", row, principal,
           comment=comment)
    return row


# --- handing over, withdrawing, expiring --------------------------------------------------


def assign(db: Session, request_id: int, principal: Principal, to: str,
           now: dt.datetime | None = None) -> ApprovalRequest:
    """Hand a pending request to one admin, who alone may then decide it. Never to its
    maker (`assignee_invalid`, and the database refuses it too)."""
    from backend.identity.accounts import normalise_username
    from backend.identity.models import StaffAccount

    require_admin(principal, "hand requests over")
    row = get_request(db, request_id)
    if row.status != "pending":
        raise ApiError(Reason.APPROVAL_NOT_PENDING, f"this request is {row.status}; only a "
                       "pending request is handed over", 409)
    username = normalise_username(to)
    if username == row.maker:
        raise ApiError(Reason.ASSIGNEE_INVALID, "a request is never handed to its maker: "
                       "a second person must decide it", 422, {"to": username})
    account = db.execute(select(StaffAccount).where(
        StaffAccount.username == username)).scalar_one_or_none()
    if account is None or not account.enabled or account.role != "admin":
        raise ApiError(Reason.ASSIGNEE_INVALID, f"{username} is not an enabled admin account",
                       422, {"to": username})
    changed = rowcount(db.execute(update(TABLE).where(TABLE.c.id == request_id,
                                                      TABLE.c.status == "pending",
                                                      TABLE.c.maker != username)
                                  .values(assigned_to=username)))
    if changed != 1:
        raise ApiError(Reason.APPROVAL_NOT_PENDING, "this request changed meanwhile", 409)
    row = get_request(db, request_id)
    _audit(db, "approval.assign", row, principal, to=username)
    return row


def cancel(db: Session, request_id: int, principal: Principal, comment: str = "",
           now: dt.datetime | None = None) -> ApprovalRequest:
    """The maker withdraws a request that is not yet carried out (pending or approved)."""
    require_admin(principal, "withdraw requests")
    now = now or utcnow()
    row = get_request(db, request_id)
    if row.maker != principal.subject:
        raise ApiError(Reason.NOT_MAKER, f"only {row.maker}, who asked, may withdraw this "
                       "request", 403)
    if row.status not in OPEN_STATUSES:
        raise ApiError(Reason.APPROVAL_NOT_PENDING, f"this request is {row.status}; it can "
                       "no longer be withdrawn", 409)
    changed = rowcount(db.execute(update(TABLE).where(TABLE.c.id == request_id,
                                                      TABLE.c.status.in_(OPEN_STATUSES),
                                                      TABLE.c.maker == principal.subject)
                                  .values(status="cancelled", closed_at=now)))
    if changed != 1:
        raise ApiError(Reason.APPROVAL_NOT_PENDING, "this request changed meanwhile", 409)
    row = get_request(db, request_id)
    _audit(db, "approval.cancel", row, principal, comment=_refuse_text(comment, "comment"))
    return row


def expire_due(db: Session, now: dt.datetime | None = None) -> list[int]:
    """Expire requests past their time (pending: undecided; approved: not carried out).
    This only ever sets `expired`: waiting never approves anything."""
    now = now or utcnow()
    due = db.execute(select(TABLE.c.id).where(TABLE.c.status.in_(OPEN_STATUSES),
                                              TABLE.c.expires_at <= now)
                     .order_by(TABLE.c.id)).scalars().all()
    expired = []
    for request_id in due:
        changed = rowcount(db.execute(update(TABLE).where(TABLE.c.id == request_id,
                                                          TABLE.c.status.in_(OPEN_STATUSES),
                                                          TABLE.c.expires_at <= now)
                                      .values(status="expired", closed_at=now)))
        if changed == 1:
            expired.append(request_id)
            record(db, action="approval.expire", subject_type="approval",
                   subject_id=str(request_id), details={"at": now.isoformat()})
    return expired


# --- carrying out --------------------------------------------------------------------------


def check_binding(row: ApprovalRequest, payload: Any | None = None) -> None:
    """Refuse `approval_mismatch` unless the stored request still hashes to what was
    approved and, when `payload` is given, it is exactly that request."""
    if payload_hash(row.payload) != row.payload_hash:
        raise ApiError(Reason.APPROVAL_MISMATCH, "the stored request no longer matches the "
                       "hash it was approved under; it will not be carried out", 409,
                       {"approval": row.id})
    if payload is not None:
        offered = hash_of(get_kind(row.kind).normalise(payload))
        if offered != row.payload_hash:
            raise ApiError(Reason.APPROVAL_MISMATCH, "this is not what was approved: carry "
                           "out the approved request exactly, or ask again", 409,
                           {"approval": row.id, "approved_sha256": row.payload_hash,
                            "offered_sha256": offered})


def carry_out(db: Session, request_id: int, principal: Principal, *, kind: str | None = None,
              payload: Any | None = None, send: bool = True,
              now: dt.datetime | None = None) -> tuple[ApprovalRequest, CarriedOut]:
    """Carry out an approved request, in the caller's transaction, exactly as approved.

    `kind` and `payload`, when given, are what the caller is about to do: anything but
    the approved request is refused `approval_mismatch`. The request moves to
    `carried_out` (once: a second attempt is refused `approval_not_approved`) in the
    same transaction as the work its kind starts (a bulk job, sent to a worker after the
    commit when `send`) or does (a programme change).
    """
    require_admin(principal, "carry out requests")
    now = now or utcnow()
    row = get_request(db, request_id)
    if kind is not None and row.kind != kind:
        raise ApiError(Reason.APPROVAL_MISMATCH, f"approval {row.id} is for {row.kind}, not "
                       f"{kind}", 409, {"approval": row.id, "kind": row.kind})
    if row.status != "approved":
        waiting = " and still needs a second person" if row.status == "pending" else ""
        raise ApiError(Reason.APPROVAL_NOT_APPROVED, f"this request is {row.status}{waiting}; "
                       "only an approved request is carried out", 409,
                       {"status": row.status})
    if as_utc(row.expires_at) <= now:
        raise ApiError(Reason.APPROVAL_EXPIRED, "the approval has expired; ask again", 409)
    check_binding(row, payload)
    changed = rowcount(db.execute(update(TABLE).where(TABLE.c.id == request_id,
                                                      TABLE.c.status == "approved",
                                                      TABLE.c.payload_hash == row.payload_hash,
                                                      TABLE.c.expires_at > now)
                                  .values(status="carried_out", carried_out_at=now,
                                          carried_out_by=principal.subject)))
    if changed != 1:
        raise ApiError(Reason.APPROVAL_NOT_APPROVED, "this request changed meanwhile", 409)
    row = get_request(db, request_id)
    done = get_kind(row.kind).carry_out(db, row, payload_of(row), principal, send)
    _audit(db, "approval.carry_out", row, principal, job=done.job_id, result=done.message)
    return row, done


def _audit(db: Session, action: str, row: ApprovalRequest, principal: Principal,
           **details: Any) -> None:
    record(db, action=action, subject_type="approval", subject_id=str(row.id),
           principal=principal, details={"kind": row.kind, "sha256": row.payload_hash,
                                         "maker": row.maker, **details})
