"""An offline redemption is part of the agent's day like any other, and of the ledger."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backend.db import session
from backend.ledger import checks, settlement
from tests.backend.offline.conftest import signed


def test_an_offline_redemption_counts_in_the_agents_day_takings(
        app, agent, family, published_crl, sync):
    number, origin = published_crl(), app.config["ORIGIN"]
    _, covered = family(100_000)
    _, short = family(5_000)
    results = sync(agent, [signed(covered, origin, agent.terminal_id, 1, number),
                           signed(short, origin, agent.terminal_id, 2, number)]
                   ).json["results"]
    zone = app.config["CITY_TIMEZONE"]
    day = dt.datetime.now(ZoneInfo(zone)).date()
    [group] = settlement.takings(session(), agent.terminal_id, day, zone)
    assert group.amount == 50_000
    assert group.entries == [r["entry_id"] for r in results]
    [done] = settlement.settle(session(), agent.terminal_id, day, zone, None)
    assert done["amount"] == 50_000


def test_the_offline_risk_below_zero_is_no_ledger_finding(
        app, agent, family, published_crl, sync):
    _, card = family(0)
    sync(agent, [signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())])
    assert all(not rows for rows in checks.findings(session()).values())
