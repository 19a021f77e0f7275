"""What the signals read: a day's redemptions and card refusals, and the agents' history.

Redemptions come from the journal (a card's spend at a terminal); refusals from the
audit log (a card token the hub refused, recorded with the terminal that sent it). A
day is the city's local day (`CITY_TIMEZONE`), as for settlements.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from backend.audit.models import AuditRecord
from backend.ledger.patterns import REDEMPTIONS
from backend.ledger.postings import ENTRIES as E
from backend.ledger.settlement import day_bounds
from backend.signals.detect import Day, Redemption, Refusal

HISTORY_DAYS = 28
CAP_PARAMETER = "max_redemption"  # a programme's largest single redemption
OFFLINE = ("offline_spend",)  # backend.offline.post.ENTRY_KIND
REFUSED_TOKEN = "api.cards.token"  # backend.audit.refusals: a card token refused
A = AuditRecord.__table__


def load_day(sess: Session, audit: Connection, day: date, zone: str,
             caps: dict[str, int], takings: dict[str, dict[date, int]]) -> Day:
    """`takings`: each agent's takings per local day, `history` read once for a range."""
    start, end = day_bounds(day, zone)
    first = day - timedelta(days=HISTORY_DAYS)
    before = {agent: {d: v for d, v in days.items() if first <= d < day}
              for agent, days in takings.items()}
    return Day(day=day, zone=ZoneInfo(zone), redemptions=redemptions(sess, start, end),
               refusals=refusals(audit, start, end),
               history={agent: days for agent, days in before.items() if days}, caps=caps,
               offline=redemptions(sess, start, end, OFFLINE))


def redemptions(sess: Session, start: Any, end: Any,
                kinds: tuple[str, ...] = REDEMPTIONS) -> list[Redemption]:
    """The day's card redemptions at terminals (`kinds`: those synced from offline, by
    the day the hub posted them, as the agent's takings count them)."""
    rows = sess.execute(
        select(E.c.id, E.c.actor, E.c.terminal_id, E.c.created_at, E.c.amount, E.c.programme)
        .where(E.c.kind.in_(kinds), E.c.actor.like("card:%"),
               E.c.terminal_id.is_not(None), E.c.created_at >= start, E.c.created_at < end)
        .order_by(E.c.created_at, E.c.id))
    return [Redemption(r.id, r.actor.removeprefix("card:"), r.terminal_id,
                       _utc(r.created_at), int(r.amount), r.programme) for r in rows]


def refusals(audit: Connection, start: Any, end: Any) -> list[Refusal]:
    rows = audit.execute(
        select(A.c.seq, A.c.terminal_id, A.c.at, A.c.outcome)
        .where(A.c.action == REFUSED_TOKEN, A.c.outcome != "ok",
               A.c.terminal_id.is_not(None), A.c.at >= start, A.c.at < end)
        .order_by(A.c.seq))
    return [Refusal(r.seq, r.terminal_id, _utc(r.at), r.outcome) for r in rows]


def history(sess: Session, since: date, until: date, zone: str) -> dict[str, dict[date, int]]:
    """Each agent's takings per local day from HISTORY_DAYS before `since` to the day
    before `until`: what judging every day from `since` to `until` looks back on."""
    start = day_bounds(since - timedelta(days=HISTORY_DAYS), zone)[0]
    end = day_bounds(until, zone)[0]
    local = ZoneInfo(zone)
    days: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for r in sess.execute(
            select(E.c.terminal_id, E.c.created_at, E.c.amount)
            .where(E.c.kind.in_(REDEMPTIONS), E.c.actor.like("card:%"),
                   E.c.terminal_id.is_not(None), E.c.created_at >= start,
                   E.c.created_at < end)):
        days[r.terminal_id][_utc(r.created_at).astimezone(local).date()] += int(r.amount)
    return {agent: dict(totals) for agent, totals in days.items()}


def _utc(at: Any) -> Any:
    """SQLite hands back naive times; every time stored is UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)
