"""Education stipend end to end: semester allocation per student, withdrawal at a counter."""

import datetime as dt

from backend.reasons import Reason
from backend.services import years_before


def born_aged(years):
    return years_before(dt.date.today(), years) - dt.timedelta(days=200)


def programmes(client, token):
    answer = client.get("/api/v1/services", headers={"Authorization": f"Bearer {token}"})
    return {p["key"]: p for p in answer.json["programmes"]}


def test_enrolled_student_gets_the_stipend_of_their_level(citizen, household, enrol,
                                                          allocate_now, card_session,
                                                          client):
    student = citizen(birth_date=born_aged(16))
    household(members=[(student, "child")], welfare_decile=3)
    enrol(student, "senior", 10)
    allocate_now("education")
    education = programmes(client, card_session(student, "tap", "kiosk"))["education"]
    assert education["eligible"] and education["balances"] == {"stipend": 1_000_000}


def test_no_stipend_without_enrolment(citizen, household, allocate_now, card_session, client):
    child = citizen(birth_date=born_aged(10))
    household(members=[(child, "child")], welfare_decile=3)
    allocate_now("education")
    education = programmes(client, card_session(child, "tap", "kiosk"))["education"]
    assert education["reason"] == "not_enrolled" and education["balances"] == {}


def test_no_stipend_for_a_well_off_household(citizen, household, enrol, allocate_now,
                                             card_session, client):
    student = citizen(birth_date=born_aged(12))
    household(members=[(student, "child")], welfare_decile=8)
    enrol(student, "junior", 7)
    allocate_now("education")
    education = programmes(client, card_session(student, "tap", "kiosk"))["education"]
    assert education["reason"] == "decile_above_threshold" and education["balances"] == {}


def test_stipend_is_withdrawn_at_a_counter_with_pin(citizen, household, enrol, allocate_now,
                                                    card_session, call_service):
    student = citizen(birth_date=born_aged(13))
    household(members=[(student, "child")], welfare_decile=2)
    enrol(student, "junior", 8)
    allocate_now("education")
    answer = call_service(card_session(student, "pin", "counter"), "education", "withdraw",
                          {"amount": 500_000})
    assert answer.status_code == 200, answer.json
    assert answer.json["balance_after"] == 250_000 and answer.json["receipt"]


def test_withdrawal_above_the_balance_is_refused(citizen, household, enrol, allocate_now,
                                                 card_session, call_service):
    student = citizen(birth_date=born_aged(8))
    household(members=[(student, "child")], welfare_decile=2)
    enrol(student, "primary", 2)
    allocate_now("education")
    answer = call_service(card_session(student, "pin", "counter"), "education", "withdraw",
                          {"amount": 450_001})
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.INSUFFICIENT_BALANCE


def test_a_second_run_of_the_semester_pays_nothing_more(citizen, household, enrol,
                                                        allocate_now):
    student = citizen(birth_date=born_aged(9))
    household(members=[(student, "child")], welfare_decile=2)
    enrol(student, "primary", 3)
    first = allocate_now("education")
    again = allocate_now("education")
    assert first[0].granted >= 1 and again[0].granted == 0
