"""The citizen's access log: every read of their personal data, who read it and why.

A read is a record about the citizen (`citizen_id`) whose action ends in `.read`
(`record_read` guarantees that). The citizen sees when, from which office or
terminal, the reader's role and the purpose, never the staff member's name: like
Estonia's data tracker, it answers "which office looked, and why". Viewing the log is
itself a read, recorded by the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from reportlab.lib.units import mm
from sqlalchemy import Connection, select

from backend.audit.models import AuditRecord
from backend.audit.pdf import table_report

ACCESS_LOG_READ = "audit.access_log.read"
_T = AuditRecord.__table__


@dataclass(frozen=True)
class Access:
    seq: int
    at: datetime
    action: str
    reader: str  # "staff", "terminal", "card" (the citizen's own card), "system"
    role: str | None
    terminal_id: str | None
    office: str | None  # the terminal's registered name, where the hub knows it
    purpose: str | None
    fields: tuple[str, ...]
    by_you: bool


def accesses(conn: Connection, citizen_id: int, *, limit: int = 50,
             before: int | None = None) -> list[Access]:
    """The citizen's reads, newest first; `before` pages back from a sequence number."""
    query = (select(_T.c.seq, _T.c.at, _T.c.action, _T.c.actor_kind, _T.c.role,
                    _T.c.terminal_id, _T.c.purpose, _T.c.details)
             .where(_T.c.citizen_id == citizen_id, _T.c.action.like("%.read"),
                    _T.c.outcome == "ok")
             .order_by(_T.c.seq.desc()).limit(limit))
    if before is not None:
        query = query.where(_T.c.seq < before)
    rows = conn.execute(query).all()
    offices = _office_names(conn, {r.terminal_id for r in rows if r.terminal_id})
    return [Access(seq=r.seq, at=r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
                   action=r.action, reader=r.actor_kind, role=r.role,
                   terminal_id=r.terminal_id, office=offices.get(r.terminal_id),
                   purpose=r.purpose, fields=_fields(r.details), by_you=r.actor_kind == "card")
            for r in rows]


def _fields(details: str) -> tuple[str, ...]:
    try:
        found = json.loads(details).get("fields", [])
    except (ValueError, AttributeError):
        return ()
    return tuple(str(f) for f in found) if isinstance(found, list) else ()


def _office_names(conn: Connection, terminal_ids: set[str]) -> dict[str, str]:
    """Terminal id -> registered name (the identity domain is part of every hub)."""
    from backend.identity.models import Terminal

    table = Terminal.__table__
    if not terminal_ids:
        return {}
    rows = conn.execute(select(table.c.id, table.c.name).where(table.c.id.in_(terminal_ids)))
    return {str(row.id): row.name for row in rows}


def access_log_pdf(entries: list[Access], citizen_label: str, city: str) -> bytes:
    rows = [[e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
             e.office or e.terminal_id or "-",
             "you, with your card" if e.by_you else (e.role or e.reader),
             e.purpose or "-", ", ".join(e.fields) or e.action] for e in entries]
    facts = [("City", city), ("Citizen", citizen_label), ("Reads listed", str(len(entries))),
             ("Printed", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    notes = ["Every read of your personal data by the city's offices, terminals and your own "
             "card is listed here, newest first. Each entry is part of a tamper-evident, "
             "signed audit log."]
    return table_report("Who read my data", facts,
                        ("When", "Office or terminal", "Who (role)", "Purpose", "What"),
                        rows, notes, widths=(40 * mm, 70 * mm, 45 * mm, 60 * mm, None))
