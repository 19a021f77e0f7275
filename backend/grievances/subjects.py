"""What an appeal is about, checked before it is filed.

A refusal is described as the screen showed it: its machine reason (one the hub or an
installed programme declares, never free text), the programme and action refused, the
terminal and the time. A receipt is a ledger journal entry, and it must be the
citizen's own: the entry names them, or it moved an account they or their household
hold. Anything else is refused `grievance_subject_invalid`, so the queue only ever
holds appeals a clerk can look up.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.errors import ApiError
from backend.grievances.schemas import FileIn
from backend.ledger.models import Account, JournalEntry, JournalLine
from backend.reasons import Reason
from backend.registry.models import HouseholdMember

CODE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
CLOCK_SKEW = dt.timedelta(minutes=5)  # a terminal's clock a little ahead is not a lie
OLDEST = dt.timedelta(days=366)  # a refusal older than a year is not appealed here


@dataclass(frozen=True)
class Refusal:
    reason: str
    programme: str | None
    action: str | None
    terminal_id: str | None
    at: dt.datetime

    @property
    def key(self) -> str:
        return f"refusal:{self.reason}:{self.programme or ''}:{self.action or ''}"


@dataclass(frozen=True)
class Receipt:
    entry_id: int

    @property
    def key(self) -> str:
        return f"receipt:{self.entry_id}"


Subject = Refusal | Receipt


def _invalid(message: str) -> ApiError:
    return ApiError(Reason.GRIEVANCE_SUBJECT_INVALID, message, 422)


def known_reasons() -> frozenset[str]:
    """The hub's reasons and every installed programme's own."""
    from backend.services.catalogue import modules

    known = {reason.value for reason in Reason}
    for module in modules().values():
        if module.reasons is not None:
            known |= {reason.value for reason in module.reasons}
    return frozenset(known)


def refusal(reason: str, programme: str | None, action: str | None, terminal_id: str | None,
            at: dt.datetime, now: dt.datetime) -> Refusal:
    """A refusal the hub could have given: a declared reason, an installed programme and
    one of its actions, a time neither in the future nor long past."""
    from backend.services.catalogue import modules

    if reason not in known_reasons():
        raise _invalid(f"{reason!r} is not a reason the city's services refuse with")
    if programme is not None:
        module = modules().get(programme)
        if module is None:
            raise _invalid(f"no programme {programme!r} in this city")
        if action is not None and action not in module.actions:
            raise _invalid(f"programme {programme!r} has no action {action!r}")
    elif action is not None:
        raise _invalid("an action is named only with its programme")
    at = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    if at > now + CLOCK_SKEW or at < now - OLDEST:
        raise _invalid("the refusal's time is in the future or more than a year ago")
    return Refusal(reason, programme, action, terminal_id, at)


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


def of_filing(db: Session, body: FileIn, citizen_id: int, terminal_id: str | None,
              now: dt.datetime | None = None) -> Subject:
    """The checked subject of a filing, from the API's body (the screens build the same)."""
    if body.subject == "receipt":
        assert body.entry_id is not None
        return receipt(db, citizen_id, body.entry_id)
    assert body.reason is not None and body.refused_at is not None
    return refusal(body.reason, body.programme, body.action, terminal_id, body.refused_at,
                   now or dt.datetime.now(dt.UTC))
