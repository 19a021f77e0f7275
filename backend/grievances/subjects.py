"""What an appeal is about, checked before it is filed.

A refusal is one the city recorded: the audit record the API's refusal hook or a
screen wrote when it refused the citizen a programme's action (backend.audit.refusals),
named by its sequence number. It must be the citizen's own, a refusal (not "ok"), of
an action a citizen asks for, and under a year old; its reason, programme, action,
terminal and time are read from the record, never taken from the filing. So an appeal
cannot be about a refusal that never happened, and each refusal has its own appeal.
A receipt is a ledger journal entry, and it must be the citizen's own: the entry names
them, or it moved an account they or their household hold. Anything else is refused
`grievance_subject_invalid`, so the queue only ever holds appeals a clerk can look up.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from backend.audit.models import AuditRecord
from backend.audit.sequencer import settle
from backend.db import database
from backend.errors import ApiError
from backend.grievances.schemas import FileIn
from backend.ledger.models import Account, JournalEntry, JournalLine
from backend.reasons import Reason
from backend.registry.models import HouseholdMember

OLDEST = dt.timedelta(days=366)  # a refusal older than a year is not appealed here
# The recorded refusals of an action the citizen asked for: a programme's action over
# the API (any terminal), or a document asked for at the kiosk.
REFUSAL_ACTIONS = ("api.services.run_action", "kiosk.services.run_action")


@dataclass(frozen=True)
class Refusal:
    seq: int  # the refusal's audit record
    reason: str
    programme: str | None
    action: str | None
    terminal_id: str | None
    at: dt.datetime

    @property
    def key(self) -> str:
        return f"refusal:{self.seq}"


@dataclass(frozen=True)
class Receipt:
    entry_id: int

    @property
    def key(self) -> str:
        return f"receipt:{self.entry_id}"


Subject = Refusal | Receipt


def _invalid(message: str) -> ApiError:
    return ApiError(Reason.GRIEVANCE_SUBJECT_INVALID, message, 422)


def _recorded(record: AuditRecord) -> Refusal:
    asked = json.loads(record.details or "{}").get("path_args") or {}
    at = record.at if record.at.tzinfo is not None else record.at.replace(tzinfo=dt.UTC)
    return Refusal(record.seq, record.outcome, asked.get("key"), asked.get("action_name"),
                   record.terminal_id, at)


def _appealable(citizen_id: int, now: dt.datetime) -> ColumnElement[bool]:
    return and_(AuditRecord.citizen_id == citizen_id, AuditRecord.outcome != "ok",
                AuditRecord.action.in_(REFUSAL_ACTIONS), AuditRecord.at >= now - OLDEST)


def refusal(db: Session, citizen_id: int, seq: int, now: dt.datetime) -> Refusal:
    """The recorded refusal `seq`, if it is the citizen's own and may be appealed (else
    refused, whether it exists or not, so an appeal cannot probe the audit log)."""
    record = db.execute(select(AuditRecord).where(
        AuditRecord.seq == seq, _appealable(citizen_id, now))).scalar_one_or_none()
    if record is None:
        raise _invalid(f"{seq} is not a refusal of the citizen's own from the last year")
    return _recorded(record)


def recorded_refusals(db: Session, citizen_id: int, now: dt.datetime,
                      limit: int = 20) -> list[Refusal]:
    """The citizen's refusals that may be appealed, newest first (the counter offers
    them). The caller records the read: they are the citizen's data."""
    settle(database().engine)  # the API's refusals are chained off the request path
    rows = db.execute(select(AuditRecord).where(_appealable(citizen_id, now))
                      .order_by(AuditRecord.seq.desc()).limit(limit)).scalars()
    return [_recorded(record) for record in rows]


def receipt(db: Session, citizen_id: int, entry_id: int) -> Receipt:
    """The entry, if it is the citizen's own (else refused, whether it exists or not, so
    an appeal cannot probe other people's receipts)."""
    households = select(HouseholdMember.household_id).where(
        HouseholdMember.citizen_id == citizen_id)
    theirs = select(JournalLine.entry_id).join(
        Account, Account.id == JournalLine.account_id).where(
        JournalLine.entry_id == entry_id,
        or_((Account.owner_type == "citizen") & (Account.owner_ref == str(citizen_id)),
            (Account.owner_type == "household") & (Account.owner_id.in_(households))))
    found = db.execute(select(JournalEntry.id).where(
        JournalEntry.id == entry_id,
        or_(JournalEntry.citizen_id == citizen_id, JournalEntry.id.in_(theirs)))).first()
    if found is None:
        raise _invalid(f"receipt {entry_id} is not one of the citizen's own")
    return Receipt(entry_id)


def of_filing(db: Session, body: FileIn, citizen_id: int,
              now: dt.datetime | None = None) -> Subject:
    """The checked subject of a filing, from the API's body (the screens build the same)."""
    if body.subject == "receipt":
        assert body.entry_id is not None
        return receipt(db, citizen_id, body.entry_id)
    assert body.refusal is not None
    return refusal(db, citizen_id, body.refusal, now or dt.datetime.now(dt.UTC))
