"""Offline redemptions out of proportion at an agent: most of its day offline while its
peers were online is signalled; an outage of an hour or two is not."""

import dataclasses
import datetime as dt

from backend.signals.detect import Thresholds, detect, offline_share
from tests.backend.signals.test_detect import at, day, ordinary, spend


def offline(agent, n, first_hour=9, amount=40_000):
    return [spend(agent, f"{agent}-off-{i}", at(first_hour + i % 10, 5 * i % 60), amount)
            for i in range(n)]


def with_offline(online, synced):
    return dataclasses.replace(day(online), offline=synced)


def test_most_of_a_day_offline_is_signalled_with_the_offline_entries():
    synced = offline("shop-a", 12)
    found = detect(with_offline(ordinary("shop-a", 6) + ordinary("shop-b")
                                + ordinary("shop-c"), synced))
    assert [(s.kind, s.subject) for s in found] == [("offline_share", "shop-a")]
    assert found[0].evidence == tuple(r.id for r in sorted(synced, key=lambda r: r.at))
    assert found[0].measure >= Thresholds().offline_share


def test_an_outage_of_an_hour_or_two_is_not_signalled():
    synced = offline("shop-a", 3)
    assert detect(with_offline(ordinary("shop-a") + ordinary("shop-b"), synced)) == []


def test_a_large_share_of_few_offline_redemptions_is_not_signalled():
    synced = offline("shop-a", 4)
    assert offline_share(with_offline(ordinary("shop-a", 2) + ordinary("shop-b"), synced),
                         Thresholds()) == []


def test_a_day_when_every_agent_was_offline_is_not_signalled():
    online = ordinary("shop-a", 4) + ordinary("shop-b", 4) + ordinary("shop-c", 4)
    synced = offline("shop-a", 10) + offline("shop-b", 10) + offline("shop-c", 10)
    assert detect(with_offline(online, synced)) == []


def test_an_agent_only_offline_that_day_is_signalled():
    found = detect(with_offline(ordinary("shop-b"), offline("shop-a", 6)))
    assert [(s.kind, s.subject) for s in found] == [("offline_share", "shop-a")]
    assert found[0].day == dt.date(2026, 11, 10)
