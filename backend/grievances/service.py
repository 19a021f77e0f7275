"""Appeals from filing to resolution: the rule the API and the screens both call.

Each function takes the caller's session and never commits: the caller's transaction
holds the change and its audit record (`grievance.filed`, `grievance.assigned`,
`grievance.resolved`; a staff member opening an appeal records a read of the
citizen's data). Every change is a compare-and-set UPDATE on the status, so two clerks
resolving at once cannot both win, and the CHECK constraints of migration 0022 refuse
a shape the code would never write.

Who may do what:
- file: the citizen, with the card and PIN, at a kiosk or at a counter (the clerk then
  files beside them); a second filing about the same subject while the first is not
  resolved answers the first;
- assign: a clerk or an admin, to themselves if a clerk, or to an enabled clerk, until it
  is resolved (appeals are worked at the counter, which admits clerks);
- resolve: its assignee only, with an outcome and a reason the citizen will read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.audit import record, record_read
from backend.auth.principal import Principal
from backend.cards.store import utcnow
from backend.db import rowcount
from backend.errors import ApiError
from backend.grievances import due
from backend.grievances.models import MAX_RESOLUTION, MAX_WORDS, OUTCOMES, Grievance
from backend.grievances.schemas import refusal_seq
from backend.grievances.subjects import Refusal, Subject, recorded_refusals
from backend.reasons import Reason

__all__ = ["Grievance", "utcnow"]

TABLE = Grievance.__table__
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HANDLERS = ("clerk", "admin")  # staff roles that take, hand on and resolve appeals
ASSIGNEES = ("clerk",)  # who may hold one: the counter, where appeals are worked, is theirs
FILED_PURPOSE = "file the citizen's appeal"
HANDLE_PURPOSE = "handle the citizen's appeal"
OWN_PURPOSE = "citizen viewed own appeals"
READ_FIELDS = ("full_name", "national_number", "appeal")


@dataclass(frozen=True)
class Filed:
    grievance: Grievance
    created: bool  # False: an appeal about this subject was open already


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.subject}"


def _text(value: str | None, limit: int, what: str, field: str) -> str | None:
    """What a person wrote, trimmed: bounded, and no control characters but line breaks
    and tabs (NUL cannot even be stored in PostgreSQL text). A refusal names the `field`
    and the problem, so a screen shows it beside the field."""
    value = (value or "").strip()
    if CONTROL.search(value):
        raise _invalid_field(field, "control_characters", f"the {what} holds control "
                             "characters")
    if len(value) > limit:
        raise _invalid_field(field, "too_long", f"the {what} is longer than {limit} "
                             "characters")
    return value or None


def _invalid_field(field: str, problem: str, message: str) -> ApiError:
    return ApiError(Reason.VALIDATION_FAILED, message, 400,
                    details={"field": field, "problem": problem})


def _open_about(db: Session, citizen_id: int, key: str) -> Grievance | None:
    return db.execute(select(Grievance).where(
        Grievance.citizen_id == citizen_id, Grievance.subject_key == key,
        Grievance.status != "resolved")).scalar_one_or_none()


def file_appeal(db: Session, principal: Principal, *, citizen_id: int, channel: str,
                subject: Subject, words: str | None = None,
                now: dt.datetime | None = None) -> Filed:
    """File the citizen's appeal about `subject`, due by the city's service level.

    `principal` is who files: the card session, or the clerk beside it at a counter.
    """
    words = _text(words, MAX_WORDS, "appeal's words", "words")
    found = _open_about(db, citizen_id, subject.key)
    if found is not None:
        return Filed(found, created=False)
    now = now or utcnow()
    row = Grievance(citizen_id=citizen_id, channel=channel, terminal_id=principal.terminal_id,
                    filed_by=_actor(principal), subject_kind="refusal", subject_key=subject.key,
                    words=words, status="open", filed_at=now, due_on=due.due_on(now))
    if isinstance(subject, Refusal):
        row.refusal_reason, row.refusal_programme = subject.reason, subject.programme
        row.refusal_action, row.refused_at = subject.action, subject.at
        row.refusal_terminal = subject.terminal_id
    else:
        row.subject_kind, row.entry_id = "receipt", subject.entry_id
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        # Filed at the same moment by another request: that one is the appeal.
        found = _open_about(db, citizen_id, subject.key)
        if found is None:
            raise
        return Filed(found, created=False)
    record(db, action="grievance.filed", subject_type="grievance", subject_id=str(row.id),
           citizen_id=citizen_id, principal=principal, purpose=FILED_PURPOSE,
           details={"channel": channel, **describe(row), "due_on": row.due_on.isoformat()})
    return Filed(row, created=True)


def describe(row: Grievance) -> dict[str, Any]:
    """What the appeal is about, as the audit log and the staff's queue name it."""
    if row.subject_kind == "receipt":
        return {"subject": "receipt", "entry_id": row.entry_id}
    return {"subject": "refusal", "refusal": refusal_seq(row), "reason": row.refusal_reason,
            "programme": row.refusal_programme, "action": row.refusal_action}


# --- staff -------------------------------------------------------------------------------


def _handler(principal: Principal | None) -> Principal:
    if principal is None or principal.kind != "staff" or principal.role not in HANDLERS:
        role = principal.role if principal is not None else "nobody"
        raise ApiError(Reason.ROLE_NOT_ALLOWED, f"only a clerk or an admin handles appeals "
                       f"(not {role})", 403)
    return principal


def get(db: Session, grievance_id: int) -> Grievance:
    row = db.get(Grievance, grievance_id)
    if row is None:
        raise ApiError(Reason.NOT_FOUND, f"no appeal {grievance_id}", 404)
    return row


def open_for_staff(db: Session, principal: Principal, grievance_id: int) -> Grievance:
    """One appeal with the citizen's name and words: recorded as a read of their data."""
    row = get(db, grievance_id)
    record_read(db, row.citizen_id, HANDLE_PURPOSE, READ_FIELDS, action="grievance.read",
                subject_type="grievance", subject_id=str(row.id), principal=principal)
    return row


def queue(db: Session, *, status: str | None = None, limit: int = 50,
          offset: int = 0) -> list[Grievance]:
    """Unresolved appeals, the earliest due first (so the overdue lead); or one status.
    Only what a queue needs is read here: no citizen's name, no words."""
    query = select(Grievance)
    if status is None:
        query = query.where(Grievance.status != "resolved")
    else:
        query = query.where(Grievance.status == status)
    resolved_last = case((Grievance.status == "resolved", 1), else_=0)
    return list(db.execute(query.order_by(resolved_last, Grievance.due_on, Grievance.id)
                           .limit(limit).offset(offset)).scalars())


def _assignees() -> Any:
    from backend.identity.models import StaffAccount

    return select(StaffAccount.username).where(StaffAccount.enabled.is_(True),
                                               StaffAccount.role.in_(ASSIGNEES))


def assignees(db: Session) -> list[str]:
    """The usernames an appeal may be given to, in order."""
    from backend.identity.models import StaffAccount

    return list(db.execute(_assignees().order_by(StaffAccount.username)).scalars())


def _valid_assignee(db: Session, username: str) -> str:
    from backend.identity.models import StaffAccount

    found = db.execute(_assignees().where(StaffAccount.username == username)).scalar()
    if found is None:
        raise ApiError(Reason.GRIEVANCE_ASSIGNEE_INVALID, f"{username!r} is not an enabled "
                       "clerk", 422)
    return str(found)


def _refuse_resolved(db: Session, grievance_id: int) -> None:
    get(db, grievance_id)  # 404 first
    raise ApiError(Reason.GRIEVANCE_RESOLVED, f"appeal {grievance_id} is resolved already",
                   409)


def assign(db: Session, principal: Principal, grievance_id: int, to: str | None = None,
           now: dt.datetime | None = None) -> Grievance:
    """Give the appeal to `to` (default: the caller); it may be handed on until resolved."""
    principal = _handler(principal)
    username = _valid_assignee(db, to or principal.subject)
    now = now or utcnow()
    row = get(db, grievance_id)
    before = row.assignee
    done = db.execute(update(TABLE).where(TABLE.c.id == grievance_id,
                                          TABLE.c.status != "resolved")
                      .values(status="assigned", assignee=username, assigned_at=now,
                              assigned_by=principal.subject))
    if rowcount(done) != 1:
        _refuse_resolved(db, grievance_id)
    db.refresh(row)
    record(db, action="grievance.assigned", subject_type="grievance",
           subject_id=str(grievance_id), citizen_id=row.citizen_id, principal=principal,
           purpose=HANDLE_PURPOSE, details={"to": username, "from": before})
    return row


def resolve(db: Session, principal: Principal, grievance_id: int, outcome: str,
            reason: str, now: dt.datetime | None = None) -> Grievance:
    """Close the appeal with its outcome and the reason the citizen reads at a kiosk."""
    principal = _handler(principal)
    if outcome not in OUTCOMES:
        raise _invalid_field("outcome", "unknown", f"outcome is one of {', '.join(OUTCOMES)}")
    text = _text(reason, MAX_RESOLUTION, "reason", "reason")
    if not text:
        raise _invalid_field("reason", "missing", "say why: the citizen reads the reason")
    row = get(db, grievance_id)
    if row.status == "resolved":
        _refuse_resolved(db, grievance_id)
    if row.assignee != principal.subject:
        raise ApiError(Reason.GRIEVANCE_NOT_ASSIGNEE, "only the appeal's assignee resolves "
                       "it: assign it to yourself first", 403)
    now = now or utcnow()
    done = db.execute(update(TABLE).where(TABLE.c.id == grievance_id,
                                          TABLE.c.status == "assigned",
                                          TABLE.c.assignee == principal.subject)
                      .values(status="resolved", outcome=outcome, resolution=text,
                              resolved_at=now, resolved_by=principal.subject))
    if rowcount(done) != 1:
        _refuse_resolved(db, grievance_id)
    db.refresh(row)
    record(db, action="grievance.resolved", subject_type="grievance",
           subject_id=str(grievance_id), citizen_id=row.citizen_id, principal=principal,
           purpose=HANDLE_PURPOSE, details={"outcome": outcome,
                                            "within_due": due.city_day(now) <= row.due_on})
    return row


# --- the citizen -------------------------------------------------------------------------


def own(db: Session, principal: Principal, limit: int = 20) -> list[Grievance]:
    """The card holder's own appeals, newest first; the look is recorded like any read."""
    assert principal.card is not None
    citizen_id = principal.card.citizen_id
    rows = list(db.execute(select(Grievance).where(Grievance.citizen_id == citizen_id)
                           .order_by(Grievance.filed_at.desc(), Grievance.id.desc())
                           .limit(limit)).scalars())
    record(db, action="grievance.own_read", subject_type="citizen",
           subject_id=str(citizen_id), citizen_id=citizen_id, principal=principal,
           purpose=OWN_PURPOSE, details={"appeals": len(rows)})
    return rows



def own_refusals(db: Session, principal: Principal) -> list[Refusal]:
    """The card holder's refusals that may be appealed; the look is recorded."""
    assert principal.card is not None
    citizen_id = principal.card.citizen_id
    found = recorded_refusals(db, citizen_id, utcnow())
    record(db, action="grievance.own_refusals", subject_type="citizen",
           subject_id=str(citizen_id), citizen_id=citizen_id, principal=principal,
           purpose=OWN_PURPOSE, details={"refusals": len(found)})
    return found
