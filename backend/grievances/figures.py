"""The month's appeals for the monthly report: filed, resolved, resolved by their due
date, and overdue at the month's end (or now, for the month under way).

"Overdue" is a state at one moment: filed before it, not resolved by it, and past its
due day in the city's calendar. The month's [start, end) is the city's calendar month
(`backend.documents.reports.month_bounds`); resolving on the due day is in time.
A report about some programmes counts the appeals about them: a refusal of one of
their actions, or a receipt of theirs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from backend.grievances.due import city_day
from backend.grievances.models import Grievance
from backend.ledger.models import JournalEntry

G = Grievance.__table__
E = JournalEntry.__table__


@dataclass(frozen=True)
class AppealFigures:
    filed: int = 0
    resolved: int = 0
    resolved_in_time: int = 0  # resolved in the month, on or before the due day
    overdue: int = 0  # at the month's end (or now): unresolved and past due

    @property
    def in_time_rate(self) -> float | None:
        return self.resolved_in_time / self.resolved if self.resolved else None


def _count(session: Session, *where: ColumnElement[bool]) -> int:
    return int(session.execute(select(func.count()).select_from(G).where(*where))
               .scalar_one())


def _about(programmes: Sequence[str]) -> tuple[ColumnElement[bool], ...]:
    """Appeals about these programmes (none given: all appeals)."""
    if not programmes:
        return ()
    receipts = select(E.c.id).where(E.c.programme.in_(tuple(programmes)))
    return (or_(G.c.refusal_programme.in_(tuple(programmes)), G.c.entry_id.in_(receipts)),)


def monthly(session: Session, start: dt.datetime, end: dt.datetime, zone: str,
            now: dt.datetime | None = None, programmes: Sequence[str] = ()) -> AppealFigures:
    now = now or dt.datetime.now(dt.UTC)
    about = _about(programmes)
    in_month = (G.c.resolved_at >= start, G.c.resolved_at < end, *about)
    resolved = session.execute(select(G.c.resolved_at, G.c.due_on).where(*in_month)).all()
    in_time = sum(1 for at, due in resolved if city_day(at, zone) <= due)
    moment = min(end, now)
    last_day = city_day(moment - dt.timedelta(microseconds=1), zone)
    overdue = _count(session, G.c.filed_at < moment, G.c.due_on < last_day,
                     or_(G.c.resolved_at.is_(None), G.c.resolved_at >= moment), *about)
    filed = _count(session, G.c.filed_at >= start, G.c.filed_at < end, *about)
    return AppealFigures(filed=filed, resolved=len(resolved), resolved_in_time=in_time,
                         overdue=overdue)
