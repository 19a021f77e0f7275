"""A record a clerk found to be another person's second registration is served nothing;
a record whose pair is still open is served as any other (flagged, not held)."""

import datetime as dt

import pytest

from backend.db import session
from backend.reasons import Reason
from backend.registry.dedup.models import DuplicateCandidate
from backend.services import years_before
from backend.testing.identity import bearer

BORN = years_before(dt.date.today().replace(day=1), 70) - dt.timedelta(days=30)


@pytest.fixture
def pair(citizen, household):
    """Two registrations of one grandmother, each in a household of her own (as an
    import of two family cards would leave them), and the pair the screen queued."""
    first = citizen(full_name="Sri Wahyuni", birth_date=BORN)
    second = citizen(full_name="Wahyuni Sri", birth_date=BORN)
    household(head=first, welfare_decile=2)
    household(head=second, welfare_decile=2)
    row = DuplicateCandidate(new_citizen_id=second.id, existing_citizen_id=first.id,
                             score=0.93, name_similarity=100.0, matched="name,birth_date",
                             source="import", status="open")
    session().add(row)
    session().commit()
    return first, second, row


def decide(client, staff_token, row, decision="same_person"):
    answer = client.post(f"/api/v1/duplicates/{row.id}/decision",
                         headers=bearer(staff_token("clerk")), json={"decision": decision})
    assert answer.status_code == 200, answer.json


def programmes(client, token):
    answer = client.get("/api/v1/services", headers={"Authorization": f"Bearer {token}"})
    return {p["key"]: p for p in answer.json["programmes"]}


def test_a_duplicate_record_is_refused_an_action_with_its_reason(
        pair, client, staff_token, card_session, call_service):
    _first, second, row = pair
    decide(client, staff_token, row)
    answer = call_service(card_session(second, "tap", "kiosk"), "food", "balance")
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.DUPLICATE_RECORD
    assert answer.json["error"]["details"] == {"eligibility": "duplicate_record"}


def test_a_duplicate_record_is_shown_eligible_for_no_programme(
        pair, client, staff_token, card_session):
    _first, second, row = pair
    decide(client, staff_token, row)
    shown = programmes(client, card_session(second, "tap", "kiosk"))
    assert shown and all(not p["eligible"] and p["reason"] == "duplicate_record"
                         for p in shown.values())


def test_the_first_record_is_served_after_the_decision(
        pair, client, staff_token, card_session, allocate_now):
    first, _second, row = pair
    decide(client, staff_token, row)
    allocate_now("elderly")
    elderly = programmes(client, card_session(first, "tap", "kiosk"))["elderly"]
    assert elderly["eligible"] and elderly["balances"] == {"allowance": 600_000}


def test_an_allocation_grants_nothing_to_a_duplicate_record(
        pair, client, staff_token, allocate_now):
    first, second, row = pair
    decide(client, staff_token, row)
    [outcome] = allocate_now("elderly")
    assert outcome.granted == 1


def test_a_record_whose_pair_is_open_is_served_and_granted(
        pair, client, card_session, allocate_now, call_service):
    _first, second, _row = pair
    [outcome] = allocate_now("elderly")
    assert outcome.granted == 2
    answer = call_service(card_session(second, "tap", "kiosk"), "food", "balance")
    assert answer.status_code == 200, answer.json


def test_two_people_found_different_are_both_served(
        pair, client, staff_token, allocate_now):
    _first, _second, row = pair
    decide(client, staff_token, row, "different_people")
    [outcome] = allocate_now("elderly")
    assert outcome.granted == 2
