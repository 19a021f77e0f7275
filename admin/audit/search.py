"""Searching the audit log: the filters an auditor gives, the page of records they get.

A person is named by their national number, never by the registry's internal id: the
search form takes the number, the domain resolves it to the citizen, and the page shows
each record's citizen by number again. The number itself stays out of URLs (and so out
of the hub's access log, the browser's history and bookmarks): the form is posted, and
the results page it leads to carries the internal id, which means nothing without the
registry. Pages go back in time by sequence number (keyset), so a page is as fast on
the millionth record as on the first and does not shift while new records arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Connection, select

from admin.audit.words import zone
from backend.api.routing import MAX_INT
from backend.audit.models import AuditRecord
from backend.registry import national_ids
from backend.registry.models import Citizen

PAGE_SIZE = 50
MAX_TEXT = 120
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what an <input type="datetime-local"> sends
_T = AuditRecord.__table__


@dataclass(frozen=True)
class Filters:
    """The canonical search: what the results page's URL carries."""

    citizen: int | None = None  # the registry's id, resolved from a national number
    staff: str | None = None
    terminal: str | None = None
    action: str | None = None  # a prefix: "registry." finds every registry action
    start: str | None = None  # city time, "YYYY-MM-DDTHH:MM"; inclusive
    end: str | None = None  # exclusive

    def query_args(self) -> dict[str, Any]:
        names = {"start": "from", "end": "to"}
        return {names.get(k, k): v for k, v in asdict(self).items() if v not in (None, "")}


@dataclass
class Problem:
    field: str
    text: str


def _text(values: Mapping[str, str], name: str) -> str | None:
    value = (values.get(name) or "").strip()
    return value or None


def _moment(value: str | None) -> dt.datetime | None:
    """A city-time input as an aware UTC time (stored times are UTC)."""
    if value is None:
        return None
    local = dt.datetime.strptime(value[:16], LOCAL_FORMAT)
    return local.replace(tzinfo=zone()).astimezone(dt.UTC)


def read_filters(values: Mapping[str, str], conn: Connection,
                 by_number: bool) -> tuple[Filters, list[Problem]]:
    """Filters from a posted form (`by_number`: the citizen given by national number) or
    from the results page's URL (the citizen by id); with what is wrong, field by field."""
    problems: list[Problem] = []
    texts = {name: _text(values, name) for name in ("staff", "terminal", "action", "from",
                                                   "to")}
    for name, value in texts.items():
        if value is not None and len(value) > MAX_TEXT:
            problems.append(Problem(name, _("That is too long to be a search term.")))
            texts[name] = None
    citizen = None
    if by_number:
        number = _text(values, "national_number")
        if number is not None:
            citizen = citizen_by_number(conn, number)
            if citizen is None:
                problems.append(Problem("national_number", _(
                    "No one in the registry has that national number. Check the digits.")))
    else:
        raw = _text(values, "citizen")
        if raw is not None:
            citizen = int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_INT else None
            if citizen is None or not numbers_of(conn, [citizen]):
                problems.append(Problem("national_number", _("That person is not in the "
                                                             "registry.")))
                citizen = None
    moments = {}
    for name in ("from", "to"):
        try:
            moments[name] = _moment(texts[name])
        except ValueError:
            problems.append(Problem(name, _("Enter a date and a time, for example "
                                            "26/11/2026 08:00.")))
            texts[name] = None
            moments[name] = None
    if moments["from"] and moments["to"] and moments["to"] <= moments["from"]:
        problems.append(Problem("to", _("The end of the time range must be after its "
                                         "start.")))
    found = Filters(citizen=citizen, staff=texts["staff"], terminal=texts["terminal"],
                    action=texts["action"], start=_canonical(texts["from"]),
                    end=_canonical(texts["to"]))
    return found, problems


def _canonical(value: str | None) -> str | None:
    return value[:16] if value else None


def citizen_by_number(conn: Connection, number: str) -> int | None:
    """The citizen with this national number, as typed (spaces, dashes and dots allowed)."""
    return conn.execute(select(Citizen.id).where(
        Citizen.national_number == national_ids.normalize(number)[:40])).scalar()


def numbers_of(conn: Connection, citizen_ids: Iterable[int]) -> dict[int, str]:
    """Citizen id -> national number, for the citizens a page names."""
    wanted = sorted(set(citizen_ids))
    if not wanted:
        return {}
    rows = conn.execute(select(Citizen.id, Citizen.national_number)
                        .where(Citizen.id.in_(wanted)))
    return {row.id: row.national_number for row in rows}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def records(conn: Connection, filters: Filters, before: int | None,
            limit: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int | None]:
    """A page of records, newest first, and the sequence number to page back from (None
    on the last page)."""
    query = select(_T).order_by(_T.c.seq.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(_T.c.seq < before)
    if filters.citizen is not None:
        query = query.where(_T.c.citizen_id == filters.citizen)
    if filters.staff:
        query = query.where(_T.c.actor_kind == "staff", _T.c.actor == filters.staff)
    if filters.terminal:
        query = query.where(_T.c.terminal_id == filters.terminal)
    if filters.action:
        query = query.where(_T.c.action.like(_escape_like(filters.action) + "%", escape="\\"))
    if filters.start:
        query = query.where(_T.c.at >= _moment(filters.start))
    if filters.end:
        query = query.where(_T.c.at < _moment(filters.end))
    rows = [dict(row._mapping) for row in conn.execute(query)]
    more = rows[limit - 1]["seq"] if len(rows) > limit else None
    return rows[:limit], more


def one_record(conn: Connection, seq: int) -> dict[str, Any] | None:
    row = conn.execute(select(_T).where(_T.c.seq == seq)).first()
    return dict(row._mapping) if row is not None else None


def read_details(filters: Filters, before: int | None, returned: int) -> dict[str, Any]:
    """What the audit record of this search says was asked (the citizen by id, as the
    API's record of `/audit/records` does)."""
    asked = {"citizen_id": filters.citizen, "staff": filters.staff,
             "terminal_id": filters.terminal, "action_prefix": filters.action,
             "from": filters.start, "to": filters.end, "before": before}
    return {k: v for k, v in asked.items() if v is not None} | {"returned": returned,
                                                                "screen": "audit"}
