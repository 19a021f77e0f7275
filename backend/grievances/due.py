"""The city's service level for appeals: the date an appeal is due, and whether it is late.

Days are the city's calendar days (CITY_TIMEZONE), as a citizen counts them: an appeal
filed at 23:30 in Jakarta is filed on that Jakarta day, whatever UTC says.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app


def city_day(at: dt.datetime, zone: str | None = None) -> dt.date:
    """The city's local date at `at` (a naive time is UTC, as SQLite hands it back)."""
    at = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    return at.astimezone(ZoneInfo(zone or current_app.config["CITY_TIMEZONE"])).date()


def due_on(filed_at: dt.datetime) -> dt.date:
    """GRIEVANCE_RESOLUTION_DAYS after the day it was filed."""
    days = current_app.config["GRIEVANCE_RESOLUTION_DAYS"]
    return city_day(filed_at) + dt.timedelta(days=days)


def overdue(due: dt.date, now: dt.datetime) -> bool:
    """Past its due day in the city, and so late if it is not resolved."""
    return city_day(now) > due
