"""The signals read synced offline redemptions as the agent's, apart from the online ones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backend.db import session
from backend.signals.data import load_day
from tests.backend.offline.conftest import signed


def test_the_days_offline_redemptions_are_loaded_apart(app, agent, family, published_crl,
                                                        sync):
    _, card = family()
    [result] = sync(agent, [signed(card, app.config["ORIGIN"], agent.terminal_id, 1,
                                   published_crl())]).json["results"]
    zone = app.config["CITY_TIMEZONE"]
    today = dt.datetime.now(ZoneInfo(zone)).date()
    loaded = load_day(session(), session().connection(), today, zone, {}, {})
    assert [(r.id, r.agent, r.amount, r.card) for r in loaded.offline] == [
        (result["entry_id"], agent.terminal_id, 25_000, card.serial)]
    assert loaded.redemptions == []
