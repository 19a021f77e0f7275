"""Family hope end to end: conditions from health visits and school enrolment, in arrears."""

import datetime as dt

from backend.db import session
from backend.ledger.models import Grant
from backend.services import Period, years_before

VISIT = {"kind": "child_growth", "facility_code": "PKM-KBY-01"}


def this_quarter():
    return Period.containing(dt.date.today(), "quarterly")


def toddler_born():
    return dt.date.today() - dt.timedelta(days=2 * 365)


def schoolchild_born():
    return years_before(this_quarter().start, 10)


def conditions(call_service, token):
    answer = call_service(token, "family_hope", "conditions", idempotency_key=None)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_a_toddler_without_a_clinic_visit_withholds_the_transfer(citizen, household,
                                                                  card_session, call_service):
    mother, toddler = citizen(sex="F"), citizen(birth_date=toddler_born())
    household(head=mother, members=[(toddler, "child")], welfare_decile=1)
    shown = conditions(call_service, card_session(mother, "tap", "kiosk"))
    assert shown["met"] is False and shown["reason"] == "child_clinic_visit_missing"
    assert shown["unmet"] == [{"condition": "child_clinic_visit_missing",
                               "citizen_id": toddler.id}]


def test_a_visit_registered_at_the_clinic_meets_the_condition(citizen, household, insured,
                                                              enrol, card_session,
                                                              call_service, allocate_now):
    mother, toddler = citizen(sex="F"), citizen(birth_date=toddler_born())
    pupil = citizen(birth_date=schoolchild_born())
    home = household(head=mother, members=[(toddler, "child"), (pupil, "child")],
                     welfare_decile=1)
    insured(toddler)
    enrol(pupil, "primary", 4)
    visit = call_service(card_session(mother, "pin", "counter"), "health", "register_visit",
                         {**VISIT, "patient_id": toddler.id})
    assert visit.status_code == 200, visit.json
    assert conditions(call_service, card_session(mother, "tap", "kiosk"))["met"] is True
    allocate_now("family_hope", period=this_quarter().key)
    grant = session().query(Grant).filter_by(programme="family_hope",
                                             beneficiary_ref=str(home.id)).one()
    assert grant.amount == 750_000 + 300_000


def test_a_school_age_child_out_of_school_is_named(citizen, household, card_session,
                                                   call_service):
    father, pupil = citizen(sex="M"), citizen(birth_date=schoolchild_born())
    household(head=father, members=[(pupil, "child")], welfare_decile=2)
    shown = conditions(call_service, card_session(father, "tap", "kiosk"))
    assert shown["unmet"] == [{"condition": "school_enrolment_missing",
                               "citizen_id": pupil.id}]


def test_a_household_without_children_or_pregnancy_has_no_component(citizen, household,
                                                                    card_session,
                                                                    call_service):
    single = citizen()
    household(head=single, welfare_decile=1)
    assert conditions(call_service, card_session(single, "tap", "kiosk"))["reason"] == \
        "no_eligible_member"


# The SQL allocation and the Python rule agree on every combination of components and
# conditions: tests/backend/services/test_eligibility_agrees.py.


def test_the_transfer_is_withdrawn_at_a_counter(citizen, household, enrol, allocate_now,
                                                card_session, call_service):
    father, pupil = citizen(sex="M"), citizen(birth_date=schoolchild_born())
    household(head=father, members=[(pupil, "child")], welfare_decile=2)
    enrol(pupil, "primary", 5)
    allocate_now("family_hope", period=this_quarter().key)
    answer = call_service(card_session(father, "pin", "counter"), "family_hope", "withdraw",
                          {"amount": 300_000})
    assert answer.status_code == 200, answer.json
    assert answer.json["balance_after"] == 0 and answer.json["receipt"]
