"""Family hope end to end: conditions from health visits and school enrolment, in arrears."""

import datetime as dt
import itertools

from backend.db import session
from backend.ledger.context import HubContext
from backend.ledger.models import Grant
from backend.services import Period, registry_tables, years_before
from backend.services_api import modules
from services.family_hope.module import decision_for
from services.family_hope.rules import beneficiaries

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


def test_the_allocation_pays_exactly_the_households_python_finds_eligible(
        app, citizen, household, enrol, fund):
    """The SQL allocation and the per-citizen rules are one rule written twice: they agree
    on every combination of components and conditions."""
    period = this_quarter()
    module = modules()["family_hope"]
    heads = []
    health = modules()["health"]
    for decile, small, pupil, enrolled, pregnant, visited in itertools.product(
            (1, 5), (False, True), (False, True), (False, True), (False, True),
            (False, True)):
        head = citizen(sex="F")
        kids = []
        if small:
            kids.append(citizen(birth_date=toddler_born()))
        if pupil:
            kids.append(citizen(birth_date=schoolchild_born()))
            if enrolled:
                enrol(kids[-1], "primary", 3)
        household(head=head, members=[(k, "child") for k in kids], welfare_decile=decile)
        facts = HubContext(session(), health, None, head.id)
        if pregnant:
            facts.record_fact("pregnancy", head.id, period.start, {},
                              valid_until=period.end + dt.timedelta(days=60))
        if visited:
            for person in ([kids[0]] if small else []) + ([head] if pregnant else []):
                facts.record_fact("visit", person.id, period.start, {"visit_kind": "x"})
        session().commit()
        heads.append(head)
    homes = {head.id: HubContext(session(), module, None, None).household_id_of(head.id)
             for head in heads}
    expected = {}
    for head in heads:
        ctx = HubContext(session(), module, None, head.id, today=period.start)
        decision = decision_for(ctx, ctx.citizen, period)
        if decision.eligible:
            expected[homes[head.id]] = decision.details["amount"]
    ids = set(homes.values())
    query = beneficiaries(registry_tables(), period, module.config, min(ids) - 1, max(ids))
    found = {row.beneficiary_id: row.amount for row in session().execute(query)
             if row.beneficiary_id in ids}
    assert found == expected and len(expected) >= 3


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
