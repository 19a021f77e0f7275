"""Each irregularity signal trips on its pattern and stays quiet on an ordinary day."""

import datetime as dt
from zoneinfo import ZoneInfo

from backend.signals.detect import Day, Redemption, Refusal, Thresholds, detect

JAKARTA = ZoneInfo("Asia/Jakarta")
DAY = dt.date(2026, 11, 10)
LIMITS = Thresholds()
_ids = iter(range(1, 1_000_000))


def at(hour, minute=0):
    return dt.datetime.combine(DAY, dt.time(hour, minute), JAKARTA).astimezone(dt.UTC)


def spend(agent, card, when, amount=47_500, programme="food"):
    return Redemption(next(_ids), card, agent, when, amount, programme)


def ordinary(agent="shop-a", n=12):
    """A shop's ordinary day: its own customers, priced baskets, opening hours."""
    return [spend(agent, f"{agent}-card-{i}", at(8 + i % 12, 7 * i % 60), 31_500 + 2_500 * i)
            for i in range(n)]


def day(redemptions=(), refusals=(), history=None):
    usual = {DAY - dt.timedelta(days=d): 400_000 for d in range(1, 15)}
    return Day(DAY, JAKARTA, list(redemptions), list(refusals),
               history if history is not None else {"shop-a": usual, "shop-b": usual},
               {"food": 200_000})


def kinds(found):
    return [(s.kind, s.subject) for s in found]


def test_an_ordinary_day_raises_no_signal():
    assert detect(day(ordinary("shop-a") + ordinary("shop-b"))) == []


def test_a_card_at_three_agents_within_half_an_hour_is_signalled_with_its_entries():
    hops = [spend(shop, "CARD-9", at(10, m)) for shop, m in (("shop-a", 0), ("shop-b", 9),
                                                            ("shop-c", 21))]
    found = detect(day(ordinary() + hops))
    assert kinds(found) == [("card_many_agents", "CARD-9")]
    assert found[0].evidence == tuple(r.id for r in hops)


def test_a_card_at_three_agents_over_a_morning_is_not_signalled():
    hops = [spend(shop, "CARD-8", at(h)) for shop, h in (("shop-a", 8), ("shop-b", 10),
                                                         ("shop-c", 12))]
    assert detect(day(ordinary() + hops)) == []


def test_many_redemptions_just_under_the_cap_are_signalled():
    near = [spend("shop-a", f"c{i}", at(9 + i), 195_000 + 500 * i) for i in range(4)]
    assert kinds(detect(day(ordinary(n=6) + near))) == [("just_under_cap", "shop-a")]


def test_a_few_large_baskets_near_the_cap_are_not_signalled():
    near = [spend("shop-a", f"c{i}", at(9 + i), 196_500) for i in range(2)]
    assert detect(day(ordinary() + near)) == []


def test_takings_far_above_the_agents_own_usual_day_are_signalled():
    busy = [spend("shop-a", f"c{i}", at(8 + i % 12, i % 60), 150_500) for i in range(12)]
    found = detect(day(busy))
    assert kinds(found) == [("takings_spike", "shop-a")]
    assert found[0].measure > LIMITS.spike_factor


def test_a_new_agent_is_judged_against_its_peers_usual_day():
    busy = [spend("shop-new", f"c{i}", at(8 + i % 12, i % 60), 180_500) for i in range(12)]
    assert kinds(detect(day(busy))) == [("takings_spike", "shop-new")]


def test_mostly_round_amounts_are_signalled():
    rounded = [spend("shop-a", f"c{i}", at(9 + i % 10, i), 50_000) for i in range(7)]
    assert kinds(detect(day(ordinary(n=5) + rounded))) == [("round_amounts", "shop-a")]


def test_redemptions_while_the_shop_should_be_shut_are_signalled():
    night = [spend("shop-a", f"n{i}", at(23, 10 * i)) for i in range(3)]
    found = detect(day(ordinary() + night))
    assert kinds(found) == [("outside_hours", "shop-a")]
    assert found[0].evidence == tuple(r.id for r in night)


def test_one_redemption_before_opening_is_not_signalled():
    assert detect(day(ordinary() + [spend("shop-a", "early", at(5, 50))])) == []


def test_card_refusals_bunched_at_one_agent_are_signalled():
    refused = [Refusal(100 + i, "shop-a", at(11, 2 * i), "signature_invalid") for i in range(5)]
    found = detect(day(ordinary(), refused))
    assert kinds(found) == [("refusal_cluster", "shop-a")]
    assert found[0].evidence == tuple(range(100, 105))


def test_refusals_spread_over_the_day_are_not_signalled():
    refused = [Refusal(200 + i, "shop-a", at(8 + 2 * i), "card_revoked") for i in range(5)]
    assert detect(day(ordinary(), refused)) == []
