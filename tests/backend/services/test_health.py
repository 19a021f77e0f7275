"""Health coverage end to end: coverage on a tap, visits with the PIN, visits as facts."""

import datetime as dt

from sqlalchemy import select

from backend.db import session
from backend.ledger.models import ServiceFact
from backend.reasons import Reason
from backend.testing.services import ledger_snapshot


def visits_of(person):
    return session().scalars(select(ServiceFact).where(
        ServiceFact.citizen_id == person.id, ServiceFact.kind == "visit")).all()


def test_clinic_checks_coverage_with_a_tap(citizen, insured, card_session, call_service):
    patient = citizen()
    insured(patient, jkn_class=3)
    answer = call_service(card_session(patient, "tap", "counter"), "health", "coverage",
                          idempotency_key=None)
    assert answer.status_code == 200
    assert answer.json["covered"] is True and answer.json["jkn_class"] == 3
    assert answer.json["facility_name"] == "Puskesmas Kebayoran Baru"


def test_coverage_of_a_non_member_says_why(citizen, card_session, call_service):
    answer = call_service(card_session(citizen(), "tap", "counter"), "health", "coverage",
                          idempotency_key=None)
    assert answer.json == {"covered": False, "reason": "no_membership"}


def test_visit_registered_with_pin_is_a_fact(citizen, insured, card_session, call_service):
    patient = citizen()
    insured(patient)
    answer = call_service(card_session(patient, "pin", "counter"), "health",
                          "register_visit", {"kind": "general", "facility_code": "PKM-KBY-01"})
    assert answer.status_code == 200, answer.json
    [visit] = visits_of(patient)
    assert visit.programme == "health" and visit.occurred_on == dt.date.today()


def test_parent_registers_a_visit_of_a_small_child(citizen, household, insured, card_session,
                                                   call_service):
    mother, baby = citizen(sex="F"), citizen(birth_date=dt.date.today() - dt.timedelta(400))
    household(head=mother, members=[(baby, "child")])
    insured(baby)
    answer = call_service(card_session(mother, "pin", "counter"), "health", "register_visit",
                          {"kind": "child_growth", "facility_code": "PKM-KBY-01",
                           "patient_id": baby.id})
    assert answer.status_code == 200 and answer.json["patient_id"] == baby.id
    assert len(visits_of(baby)) == 1 and visits_of(mother) == []


def test_a_visit_for_someone_outside_the_family_is_refused(citizen, household, insured,
                                                           card_session, call_service):
    mother, stranger = citizen(), citizen()
    household(head=mother)
    insured(stranger)
    before = ledger_snapshot()
    answer = call_service(card_session(mother, "pin", "counter"), "health", "register_visit",
                          {"kind": "general", "facility_code": "X", "patient_id": stranger.id})
    assert answer.status_code == 403 and answer.json["error"]["reason"] == Reason.FORBIDDEN
    assert ledger_snapshot() == before


def test_a_visit_of_an_uncovered_patient_is_refused(citizen, insured, card_session,
                                                    call_service):
    patient = citizen()
    insured(patient, active=False)
    before = ledger_snapshot()
    answer = call_service(card_session(patient, "pin", "counter"), "health", "register_visit",
                          {"kind": "general", "facility_code": "PKM-KBY-01"})
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.NOT_COVERED
    assert answer.json["error"]["details"]["coverage"] == "membership_inactive"
    assert ledger_snapshot() == before


def test_an_antenatal_visit_records_the_pregnancy(citizen, insured, card_session,
                                                  call_service):
    mother = citizen(sex="F")
    insured(mother)
    due = dt.date.today() + dt.timedelta(days=120)
    call_service(card_session(mother, "pin", "counter"), "health", "register_visit",
                 {"kind": "antenatal", "facility_code": "PKM-KBY-01",
                  "expected_delivery": due.isoformat()})
    [pregnancy] = session().scalars(select(ServiceFact).where(
        ServiceFact.citizen_id == mother.id, ServiceFact.kind == "pregnancy")).all()
    assert pregnancy.valid_until == due


def test_an_antenatal_visit_needs_the_delivery_date(citizen, insured, card_session,
                                                   call_service):
    mother = citizen(sex="F")
    insured(mother)
    before = ledger_snapshot()
    answer = call_service(card_session(mother, "pin", "counter"), "health", "register_visit",
                          {"kind": "antenatal", "facility_code": "PKM-KBY-01"})
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED
    assert ledger_snapshot() == before


def test_a_kiosk_cannot_register_a_visit(citizen, insured, card_session, call_service):
    patient = citizen()
    insured(patient)
    answer = call_service(card_session(patient, "pin", "kiosk"), "health", "register_visit",
                          {"kind": "general", "facility_code": "PKM-KBY-01"})
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.TERMINAL_KIND_NOT_ALLOWED
