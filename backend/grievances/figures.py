"""The month's appeals for the monthly report: filed, resolved, resolved by their due
date, and overdue at the month's end (or now, for the month under way).

"Overdue" is a state at one moment: filed before it, not resolved by it, and past its
due day in the city's calendar. The month's [start, end) is the city's calendar month
(`backend.documents.reports.month_bounds`); resolving on the due day is in time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from backend.grievances.due import city_day
from backend.grievances.models import Grievance

G = Grievance.__table__


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


def monthly(session: Session, start: dt.datetime, end: dt.datetime, zone: str,
            now: dt.datetime | None = None) -> AppealFigures:
    now = now or dt.datetime.now(dt.UTC)
    in_month = (G.c.resolved_at >= start, G.c.resolved_at < end)
    resolved = session.execute(select(G.c.resolved_at, G.c.due_on).where(*in_month)).all()
    in_time = sum(1 for at, due in resolved if city_day(at, zone) <= due)
    moment = min(end, now)
    last_day = city_day(moment - dt.timedelta(microseconds=1), zone)
    overdue = _count(session, G.c.filed_at < moment, G.c.due_on < last_day,
                     or_(G.c.resolved_at.is_(None), G.c.resolved_at >= moment))
    filed = _count(session, G.c.filed_at >= start, G.c.filed_at < end)
    return AppealFigures(filed=filed, resolved=len(resolved), resolved_in_time=in_time,
                         overdue=overdue)
