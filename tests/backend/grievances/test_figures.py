"""The month's appeals in the monthly report: filed, resolved, in time, overdue."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from backend.auth.principal import Principal
from backend.db import session
from backend.documents import reports
from backend.grievances import figures, service, subjects
from backend.testing.identity import make_staff

ZONE = "Asia/Jakarta"
MARCH = reports.month_bounds("2026-03", ZONE)
NUMBERS = itertools.count(1)  # refusal records' numbers: the counts never read them


def at(day: int, hour: int = 3, month: int = 3) -> dt.datetime:
    """A moment in 2026, in UTC (03:00 UTC is 10:00 in Jakarta)."""
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def appeal(app, citizen):
    clerk = make_staff(app, "clerk")
    me = Principal(kind="staff", subject=clerk.username, role="clerk")

    def make(filed: dt.datetime, resolved: dt.datetime | None = None, due_in: int = 14,
             programme: str | None = "elderly"):
        app.config["GRIEVANCE_RESOLUTION_DAYS"] = due_in
        refused = subjects.Refusal(next(NUMBERS), "not_eligible", programme, None, None,
                                   filed)
        row = service.file_appeal(session(), me, citizen_id=citizen().id, channel="counter",
                                  subject=refused, now=filed).grievance
        if resolved is not None:
            service.assign(session(), me, row.id, now=resolved)
            service.resolve(session(), me, row.id, "not_upheld", "the rule applies",
                            now=resolved)
        session().commit()
        return row
    return make


def test_appeals_filed_in_the_month_are_counted_by_the_citys_calendar(appeal):
    appeal(at(1, hour=18))  # 01:00 on 2 March in Jakarta: March
    appeal(at(28, hour=18, month=2))  # 01:00 on 1 March in Jakarta: March too
    appeal(at(31, hour=18))  # 01:00 on 1 April in Jakarta: not March
    counted = figures.monthly(session(), *MARCH, ZONE, now=at(10, month=4))
    assert counted.filed == 2


def test_an_appeal_resolved_on_its_due_day_is_in_time_and_one_day_later_is_not(appeal):
    appeal(at(1), resolved=at(15), due_in=14)  # due 15 March, resolved that day
    appeal(at(1), resolved=at(16), due_in=14)  # a day late
    counted = figures.monthly(session(), *MARCH, ZONE, now=at(10, month=4))
    assert (counted.resolved, counted.resolved_in_time) == (2, 1)


def test_overdue_counts_what_was_past_due_and_unresolved_at_the_months_end(appeal):
    appeal(at(1), due_in=14)  # never resolved: overdue at the end of March
    appeal(at(1), resolved=at(2, month=4), due_in=14)  # resolved only in April: overdue then
    appeal(at(25), due_in=14)  # due in April: not overdue in March
    appeal(at(1), resolved=at(10), due_in=14)  # resolved in time
    counted = figures.monthly(session(), *MARCH, ZONE, now=at(10, month=4))
    assert counted.overdue == 2


def test_the_monthly_report_carries_the_appeals(app, appeal):
    appeal(at(1), resolved=at(3))
    report = reports.monthly(session(), "2026-03", ZONE)
    assert report.as_dict()["appeals"] == {"filed": 1, "resolved": 1, "resolved_in_time": 1,
                                           "overdue": 0, "in_time_rate": 1.0}


def test_a_report_about_some_programmes_counts_only_their_appeals(appeal):
    appeal(at(1), programme="elderly")
    appeal(at(2), programme="food")
    report = reports.monthly(session(), "2026-03", ZONE, programmes=("food",))
    assert report.as_dict()["appeals"]["filed"] == 1
