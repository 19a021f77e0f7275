"""An agent's daily settlement: that day's takings, line by line, paid out in one entry.

The settlement is computed from the journal (every line that credited the terminal's
accounts during the city's local day) and moves exactly that sum from the terminal's
account to the programme's `settled` account, so it matches the ledger by
construction, and the list of entries it covers is kept with it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.errors import ApiError
from backend.ledger import postings
from backend.ledger.models import Settlement
from backend.reasons import Reason

A, L, E = postings.ACCOUNTS, postings.LINES, postings.ENTRIES
SETTLEMENTS = Settlement.__table__


@dataclass
class DayTakings:
    programme: str
    purse: str
    account_id: int
    entries: list[int] = field(default_factory=list)
    amount: int = 0


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """The city's local day as UTC instants [start, end)."""
    try:
        start = datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)
        return start, start + timedelta(days=1)
    except OverflowError as exc:  # 0001-01-01 or 9999-12-31 in a zone east or west of UTC
        raise ApiError(Reason.VALIDATION_FAILED, f"{day} is out of the calendar's range",
                       400) from exc


def takings(sess: Session, terminal_id: str, day: date, zone: str) -> list[DayTakings]:
    """What the terminal took in on `day`, per programme and purse, entry by entry."""
    start, end = day_bounds(day, zone)
    rows = sess.execute(
        select(E.c.id, E.c.programme, E.c.purse, L.c.amount, L.c.account_id)
        .join(L, L.c.entry_id == E.c.id)
        .join(A, and_(A.c.id == L.c.account_id, A.c.owner_type == "terminal",
                      A.c.owner_ref == terminal_id))
        .where(E.c.terminal_id == terminal_id, E.c.kind != "settlement", L.c.amount > 0,
               E.c.created_at >= start, E.c.created_at < end)
        .order_by(E.c.id))
    groups: dict[tuple[str, str], DayTakings] = defaultdict(lambda: DayTakings("", "", 0))
    for row in rows:
        group = groups[(row.programme, row.purse)]
        group.programme, group.purse, group.account_id = row.programme, row.purse, row.account_id
        group.entries.append(row.id)
        group.amount += int(row.amount)
    return list(groups.values())


def close_day(sess: Session, terminal_id: str, day: date, zone: str, actor: str | None,
              principal: Principal | None = None) -> list[dict[str, Any]]:
    """Settle the day and write its audit record: what the API and the agent's screen
    both do to close a terminal's day."""
    from backend.audit import record

    done = settle(sess, terminal_id, day, zone, actor)
    record(sess, action="ledger.settlement", subject_type="terminal", subject_id=terminal_id,
           details={"day": day.isoformat(),
                    "amounts": {g["programme"]: g["amount"] for g in done}},
           principal=principal)
    return done


def settle(sess: Session, terminal_id: str, day: date, zone: str,
           actor: str | None) -> list[dict[str, Any]]:
    """Close `day` for the terminal: one settlement entry per programme purse."""
    done = sess.execute(select(SETTLEMENTS.c.programme).where(
        SETTLEMENTS.c.terminal_id == terminal_id, SETTLEMENTS.c.day == day)).scalars().all()
    if done:
        raise ApiError(Reason.ALREADY_SETTLED, f"{terminal_id} is settled for {day}", 409,
                       {"programmes": sorted(done)})
    settled = []
    for group in takings(sess, terminal_id, day, zone):
        sink = postings.open_account(sess, group.programme, group.purse, postings.SETTLED)
        entry_id, _ = postings.post(sess, postings.Entry(
            kind="settlement", programme=group.programme, purse=group.purse,
            terminal_id=terminal_id, actor=actor,
            details={"day": day.isoformat(), "entries": group.entries}),
            [(group.account_id, -group.amount), (sink, group.amount)])
        sess.execute(SETTLEMENTS.insert().values(
            programme=group.programme, terminal_id=terminal_id, day=day,
            redemptions=len(group.entries), amount=group.amount, entry_id=entry_id))
        settled.append({"programme": group.programme, "purse": group.purse,
                        "redemptions": len(group.entries), "amount": group.amount,
                        "entries": group.entries, "entry_id": entry_id})
    return settled
