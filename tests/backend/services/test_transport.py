"""Transport subsidy end to end: monthly transit credit, fares by a tap at a gate."""

import datetime as dt

from backend.db import database
from backend.ledger.expiry import expire
from backend.reasons import Reason
from backend.testing.services import ledger_totals


def last_month():
    return dt.date.today().replace(day=1) - dt.timedelta(days=1)


def test_gate_deducts_a_fare_on_a_tap(citizen, household, allocate_now, card_session,
                                      call_service):
    rider = citizen()
    household(head=rider, welfare_decile=3)
    allocate_now("transport")
    answer = call_service(card_session(rider, "tap", "gate"), "transport", "fare",
                          {"amount": 3_500, "route": "TJ-1"})
    assert answer.status_code == 200, answer.json
    assert answer.json["balance_after"] == 146_500


def test_a_kiosk_cannot_take_a_fare(citizen, household, allocate_now, card_session,
                                    call_service):
    rider = citizen()
    household(head=rider, welfare_decile=3)
    allocate_now("transport")
    answer = call_service(card_session(rider, "pin", "kiosk"), "transport", "fare",
                          {"amount": 3_500})
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.TERMINAL_KIND_NOT_ALLOWED


def test_last_months_credit_cannot_pay_a_fare(citizen, household, allocate_now,
                                              card_session, call_service):
    rider = citizen()
    household(head=rider, welfare_decile=3)
    allocate_now("transport", period=f"{last_month():%Y-%m}")
    answer = call_service(card_session(rider, "tap", "gate"), "transport", "fare",
                          {"amount": 3_500})
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.CREDIT_EXPIRED


def test_unspent_credit_lapses_as_a_journal_entry(citizen, household, allocate_now):
    rider = citizen()
    household(head=rider, welfare_decile=3)
    allocate_now("transport", period=f"{last_month():%Y-%m}")
    accounts, amount = expire(database(), "transport", "transit", as_of=dt.date.today())
    assert accounts >= 1 and amount >= 150_000
    assert ledger_totals() == {"unbalanced": 0, "negative": 0, "drift": 0}


def test_this_months_grant_replaces_last_months_credit(citizen, household, allocate_now,
                                                       card_session, call_service):
    rider = citizen()
    household(head=rider, welfare_decile=3)
    allocate_now("transport", period=f"{last_month():%Y-%m}")
    allocate_now("transport")
    answer = call_service(card_session(rider, "tap", "gate"), "transport", "fare",
                          {"amount": 2_000})
    assert answer.json["balance_after"] == 148_000


def test_a_minor_gets_no_transit_credit(citizen, household, allocate_now, card_session,
                                        client):
    teen = citizen(birth_date=dt.date.today() - dt.timedelta(days=15 * 365))
    household(members=[(teen, "child")], welfare_decile=3)
    allocate_now("transport")
    answer = client.get("/api/v1/services", headers={
        "Authorization": f"Bearer {card_session(teen, 'tap', 'gate')}"})
    [transport] = answer.json["programmes"]
    assert transport["reason"] == "under_age" and transport["balances"] == {}
