"""Elderly allowance end to end: monthly allowance for 60+ in low deciles, cash at a counter."""

import datetime as dt

from backend.services import years_before


def born_aged(years, days=30):
    return years_before(dt.date.today().replace(day=1), years) - dt.timedelta(days=days)


def elderly(client, token):
    answer = client.get("/api/v1/services", headers={"Authorization": f"Bearer {token}"})
    return next(p for p in answer.json["programmes"] if p["key"] == "elderly")


def test_allowance_for_a_60_year_old_of_a_low_decile(citizen, household, allocate_now,
                                                     card_session, client):
    grandmother = citizen(birth_date=born_aged(60))
    household(members=[(grandmother, "parent")], welfare_decile=2)
    allocate_now("elderly")
    shown = elderly(client, card_session(grandmother, "tap", "kiosk"))
    assert shown["eligible"] and shown["balances"] == {"allowance": 600_000}


def test_no_allowance_a_month_before_turning_60(citizen, household, allocate_now,
                                                card_session, client):
    almost = citizen(birth_date=years_before(dt.date.today().replace(day=1), 60)
                     + dt.timedelta(days=1))
    household(members=[(almost, "parent")], welfare_decile=2)
    allocate_now("elderly")
    shown = elderly(client, card_session(almost, "tap", "kiosk"))
    assert shown["balances"] == {}


def test_no_allowance_in_a_high_decile(citizen, household, allocate_now, card_session,
                                       client):
    grandfather = citizen(birth_date=born_aged(75), sex="M")
    household(members=[(grandfather, "parent")], welfare_decile=9)
    allocate_now("elderly")
    shown = elderly(client, card_session(grandfather, "tap", "kiosk"))
    assert shown["reason"] == "decile_above_threshold" and shown["balances"] == {}


def test_allowance_accumulates_and_is_cashed_at_a_counter(citizen, household, allocate_now,
                                                          card_session, call_service):
    grandmother = citizen(birth_date=born_aged(70))
    household(members=[(grandmother, "parent")], welfare_decile=1)
    last_month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    allocate_now("elderly", period=f"{last_month:%Y-%m}")
    allocate_now("elderly")
    answer = call_service(card_session(grandmother, "pin", "counter"), "elderly", "withdraw",
                          {"amount": 1_000_000})
    assert answer.status_code == 200, answer.json
    assert answer.json["balance_after"] == 200_000
