"""Irregular redemption patterns for auditors, read from the journal.

Two patterns that preceded the end of in-kind redemption elsewhere: one card used at
many shops within an hour, and many cards used at one shop at night. The journal gives
who (the card, in `actor`), where (`terminal_id`) and when; the windows are computed
over a bounded date range.
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.ledger.postings import ENTRIES as E

REDEMPTIONS = ("spend",)


def _redemptions(sess: Session, since: datetime, until: datetime) -> Any:
    return sess.execute(
        select(E.c.id, E.c.actor, E.c.terminal_id, E.c.created_at)
        .where(E.c.kind.in_(REDEMPTIONS), E.c.actor.like("card:%"),
               E.c.created_at >= since, E.c.created_at < until)
        .order_by(E.c.actor, E.c.created_at, E.c.id))


def card_at_many_shops(sess: Session, since: datetime, until: datetime,
                       window: timedelta = timedelta(hours=1),
                       min_shops: int = 3) -> list[dict[str, Any]]:
    """Cards used at `min_shops` or more shops within any `window`."""
    found: dict[str, dict[str, Any]] = {}
    recent: dict[str, deque] = defaultdict(deque)
    for row in _redemptions(sess, since, until):
        seen = recent[row.actor]
        seen.append(row)
        while seen and row.created_at - seen[0].created_at > window:
            seen.popleft()
        shops = {r.terminal_id for r in seen}
        if len(shops) >= min_shops and len(shops) > len(found.get(row.actor, {}).get(
                "shops", ())):
            found[row.actor] = {"card": row.actor.removeprefix("card:"),
                                "shops": sorted(shops), "entries": [r.id for r in seen],
                                "first_at": seen[0].created_at.isoformat(),
                                "last_at": row.created_at.isoformat()}
    return list(found.values())


def shop_with_many_cards_at_night(sess: Session, since: datetime, until: datetime,
                                  zone: str, night: tuple[int, int] = (22, 5),
                                  min_cards: int = 5) -> list[dict[str, Any]]:
    """Shops where `min_cards` or more cards redeemed in one night (local hours)."""
    tz = ZoneInfo(zone)
    nights: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for row in _redemptions(sess, since, until):
        local = row.created_at.replace(tzinfo=row.created_at.tzinfo or UTC).astimezone(tz)
        if night[1] <= local.hour < night[0]:
            continue
        night_of = (local - timedelta(days=1) if local.hour < night[1] else local).date()
        nights[(row.terminal_id, night_of.isoformat())][row.actor].append(row.id)
    return [{"terminal_id": terminal, "night_of": night_of,
             "cards": len(cards), "entries": sorted(i for ids in cards.values() for i in ids)}
            for (terminal, night_of), cards in sorted(nights.items())
            if len(cards) >= min_cards]
