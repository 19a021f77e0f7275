"""Irregular patterns for auditors: one card at many shops, many cards at a shop at night."""

import datetime as dt
from zoneinfo import ZoneInfo

from backend.db import session
from backend.ledger import postings
from backend.reasons import Reason

JAKARTA = ZoneInfo("Asia/Jakarta")


HOMES: dict[str, int] = {}


def redeem(card, shop, at):
    """A redemption as the journal records it, at a given local time."""
    sess = session()
    home = HOMES.setdefault(card, 900_000 + len(HOMES))
    source = postings.open_account(sess, "food", "groceries", postings.Owner.of("household",
                                                                                 home))
    funding = postings.open_account(sess, "food", "groceries", postings.FUNDING)
    sink = postings.open_account(sess, "food", "groceries", postings.Owner("terminal", shop))
    postings.post(sess, postings.Entry("credit", "food", "groceries"),
                  [(funding, -10_000), (source, 10_000)])
    postings.post(sess, postings.Entry("spend", "food", "groceries", terminal_id=shop,
                                       actor=f"card:{card}", at=at.astimezone(dt.UTC)),
                  [(source, -10_000), (sink, 10_000)])
    sess.commit()


def local(day, hour, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), JAKARTA)


def ask(client, token, pattern, day, **params):
    return client.get(f"/api/v1/ledger/patterns/{pattern}", headers={
        "Authorization": f"Bearer {token}"}, query_string={
        "since": str(day), "until": str(day + dt.timedelta(days=1)), **params})


def test_a_card_at_three_shops_within_an_hour_is_found(app, client, staff_token):
    day = dt.date(2026, 3, 10)
    for minute, shop in ((0, "shop-a"), (20, "shop-b"), (50, "shop-c")):
        redeem("CARD-1", shop, local(day, 10, minute))
    for hour, shop in ((9, "shop-a"), (12, "shop-b"), (15, "shop-c")):
        redeem("CARD-2", shop, local(day, hour))
    answer = ask(client, staff_token("auditor"), "card-many-shops", day)
    assert answer.status_code == 200, answer.json
    assert [(f["card"], f["shops"]) for f in answer.json["findings"]] == [
        ("CARD-1", ["shop-a", "shop-b", "shop-c"])]


def test_many_cards_at_one_shop_at_night_are_found(app, client, staff_token):
    day = dt.date(2026, 3, 11)
    for n in range(5):
        redeem(f"NIGHT-{n}", "shop-n", local(day, 23, n * 5))
    for n in range(5):
        redeem(f"DAY-{n}", "shop-d", local(day, 14, n * 5))
    answer = ask(client, staff_token("auditor"), "shop-night-cards", day)
    assert [(f["terminal_id"], f["cards"]) for f in answer.json["findings"]] == [("shop-n", 5)]


def test_the_night_runs_past_midnight(app, client, staff_token):
    day = dt.date(2026, 3, 12)
    for n, (d, hour) in enumerate([(day, 22), (day, 23), (day + dt.timedelta(1), 1),
                                   (day + dt.timedelta(1), 2), (day + dt.timedelta(1), 4)]):
        redeem(f"LATE-{n}", "shop-l", local(d, hour))
    answer = ask(client, staff_token("auditor"), "shop-night-cards", day)
    assert answer.json["findings"][0]["night_of"] == str(day)


def test_patterns_are_for_auditors(app, client, staff_token):
    answer = ask(client, staff_token("clerk"), "card-many-shops", dt.date(2026, 3, 10))
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ROLE_NOT_ALLOWED


def test_a_range_longer_than_a_month_is_refused(app, client, staff_token):
    answer = client.get("/api/v1/ledger/patterns/card-many-shops", headers={
        "Authorization": f"Bearer {staff_token('auditor')}"},
        query_string={"since": "2026-01-01", "until": "2026-03-01"})
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED
