"""The clerk's counter on the hub: who may open it, the purpose before the record, the
reads the citizen sees, and the actions run once through the API's own domain code."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from admin.common.sessions import CARD_COOKIE
from backend.cards.models import Card
from backend.db import session
from backend.documents.models import IssuedDocument
from backend.identity.models import Terminal
from backend.ledger.models import ServiceFact
from backend.testing.cards import authenticate
from backend.testing.services import ledger_snapshot
from tests.admin.conftest import SAME_ORIGIN

QUESTION = "answer the citizen's question at a service counter"


def _sign_in(site, staff_account, role):
    account = staff_account(role, password=f"a long enough {role} password")
    answer = site.post("/staff/sign-in", data={"username": account.username,
                                               "password": account.password},
                       headers=SAME_ORIGIN)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return account


@pytest.fixture
def clerk(site, staff_account):
    """A clerk signed in on this browser, through the staff sign-in page."""
    return _sign_in(site, staff_account, "clerk")


@pytest.fixture
def holder(citizen):
    return citizen(full_name="Dewi Lestari", language="en")


def _choose(site, purpose="question"):
    answer = site.post("/counter/purpose", data={"purpose": purpose}, headers=SAME_ORIGIN)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return answer


def _key(page) -> str:
    return re.search(r'name="key" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_a_kiosk_card_session_cannot_open_the_counter(site, clerk, holder, card_session):
    token = card_session(holder, assurance="pin", terminal_kind="kiosk")
    refused = site.post("/counter/session", data={"token": token}, headers=SAME_ORIGIN)
    assert refused.status_code == 409
    site.set_cookie(CARD_COOKIE, token, domain=site.application.config.get("SERVER_NAME")
                    or "localhost")
    page = site.get("/counter/citizen")
    assert page.status_code == 303 and page.headers["Location"].endswith("/counter/")


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_staff_of_another_role_are_refused_the_counter(site, staff_account, role):
    _sign_in(site, staff_account, role)
    assert site.get("/counter/").status_code == 403


def test_a_signed_out_visitor_is_sent_to_the_staff_sign_in(site):
    page = site.get("/counter/")
    assert page.status_code == 303 and "/staff/sign-in" in page.headers["Location"]


def test_the_purpose_is_chosen_before_any_personal_data_shows(site, clerk, holder, visit,
                                                             audit_log):
    visit(holder, "pin", screen="counter")
    assert site.get("/counter/citizen").headers["Location"].endswith("/counter/purpose")
    purpose_page = site.get("/counter/purpose").get_data(as_text=True)
    assert holder.full_name not in purpose_page
    assert holder.national_number not in purpose_page
    assert not audit_log(action="counter.citizen.read")
    _choose(site)
    record = site.get("/counter/citizen").get_data(as_text=True)
    assert holder.full_name in record and holder.national_number in record


def test_the_read_is_recorded_with_the_purpose_and_the_clerk_and_shows_at_the_kiosk(
        site, clerk, holder, visit, audit_log):
    visit(holder, "pin", screen="counter")
    _choose(site)
    site.get("/counter/citizen")
    read = audit_log(action="counter.citizen.read", citizen_id=holder.id)[-1]
    assert (read["actor"], read["role"], read["purpose"]) == (clerk.username, "clerk",
                                                              QUESTION)
    office = session().get(Terminal, read["terminal_id"]).name
    visit(holder, "pin", screen="kiosk")
    log = site.get("/kiosk/access-log").get_data(as_text=True)
    row = re.search(r"<tr data-access=.*?</tr>", log, re.S).group(0)
    assert QUESTION.replace("'", "&#39;") in row and office in row
    assert clerk.username not in log


def test_a_clinic_visit_sent_twice_with_one_key_is_registered_once(site, clerk, holder, visit,
                                                                  insured, audit_log):
    insured(holder)
    visit(holder, "pin", screen="counter")
    _choose(site, "clinic_visit")
    assert site.get("/counter/clinic/patient").headers["Location"].endswith("/clinic/kind")
    site.post("/counter/clinic/kind", data={"kind": "general"}, headers=SAME_ORIGIN)
    key = _key(site.get("/counter/clinic/check"))
    as_sent = site.get_cookie("session")  # a double click: both carry the same cookie
    first = site.post("/counter/clinic/check", data={"key": key}, headers=SAME_ORIGIN)
    site.set_cookie("session", as_sent.value, secure=as_sent.secure, httponly=True)
    second = site.post("/counter/clinic/check", data={"key": key}, headers=SAME_ORIGIN)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    visits = session().scalar(select(func.count()).select_from(ServiceFact).where(
        ServiceFact.citizen_id == holder.id, ServiceFact.kind == "visit"))
    assert visits == 1 and len(audit_log(action="counter.served")) == 1


def test_an_invalid_stipend_amount_shows_the_error_summary_and_writes_nothing(
        site, clerk, holder, visit, fund):
    fund("education", "stipend", holder, 450_000)
    visit(holder, "pin", screen="counter")
    _choose(site, "payout")
    assert site.get("/counter/payout").headers["Location"].endswith("/payout/amount")
    before = ledger_snapshot()
    page = site.post("/counter/payout/amount?lang=en", data={"amount": "45O.000"},
                     headers=SAME_ORIGIN)
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert re.search(r"<title>Error:", text)
    summary = re.search(r'<div class="error-summary" role="alert"[^>]*data-autofocus>(.*?)'
                        r"</div>", text, re.S).group(1)
    assert "There is a problem" in summary and 'href="#amount"' in summary
    assert ledger_snapshot() == before


def test_report_lost_suspends_the_card_and_the_next_kiosk_tap_is_refused(
        app, site, client, clerk, holder, soft_card, terminal):
    card = soft_card(holder)
    counter = terminal("counter")
    token = authenticate(client, counter.token, card, app.config["ORIGIN"], "9A")
    site.post("/counter/session", data={"token": token.json["session_token"]},
              headers=SAME_ORIGIN)
    _choose(site, "lost")
    reported = site.post("/counter/lost", headers=SAME_ORIGIN)
    assert reported.headers["Location"].endswith("/counter/lost/done")
    assert session().scalar(select(Card.status).where(Card.serial == card.serial)) == \
        "suspended"
    tap = authenticate(client, terminal("kiosk").token, card, app.config["ORIGIN"], "9E")
    assert tap.status_code == 403 and tap.json["error"]["reason"] == "card_suspended"


def test_a_second_counters_card_session_is_refused_once_the_clerk_is_bound(
        site, clerk, holder, visit, card_session):
    visit(holder, "pin", screen="counter")
    elsewhere = card_session(holder, assurance="pin", terminal_kind="counter")
    refused = site.post("/counter/session", data={"token": elsewhere}, headers=SAME_ORIGIN)
    assert refused.status_code == 409 and refused.json["refused"] == "terminal_not_bound"


def test_every_question_page_has_a_back_link(site, clerk, holder, visit, household, citizen,
                                             fund):
    child = citizen(full_name="Rina Lestari", birth_date=date(2019, 2, 1))
    household(head=holder, members=[(child, "child")])
    fund("education", "stipend", holder, 100_000)
    fund("elderly", "allowance", holder, 100_000)
    visit(holder, "pin", screen="counter")
    _choose(site, "clinic_visit")
    site.post("/counter/clinic/kind", data={"kind": "antenatal"}, headers=SAME_ORIGIN)
    site.post("/counter/documents", data={"kind": "domicile_letter"}, headers=SAME_ORIGIN)
    for path in ("/counter/clinic/patient", "/counter/clinic/kind", "/counter/clinic/due-date",
                 "/counter/payout", "/counter/documents", "/counter/documents/purpose",
                 "/counter/replace"):
        page = site.get(path)
        assert page.status_code == 200, path
        assert 'class="back-link"' in page.get_data(as_text=True), path


def test_a_wrong_due_date_shows_the_error_summary_linked_to_the_day(site, clerk, holder,
                                                                   visit):
    visit(holder, "pin", screen="counter")
    _choose(site, "clinic_visit")
    site.post("/counter/clinic/kind", data={"kind": "antenatal"}, headers=SAME_ORIGIN)
    page = site.post("/counter/clinic/due-date", data={"day": "31", "month": "2",
                                                       "year": "2030"}, headers=SAME_ORIGIN)
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and 'href="#due-day"' in text and 'id="due-day"' in text


def test_a_household_member_can_be_the_patient(site, clerk, holder, visit, household,
                                               citizen, insured, audit_log):
    child = citizen(full_name="Rina Lestari", birth_date=date(2019, 2, 1))
    household(head=holder, members=[(child, "child")])
    insured(child)
    visit(holder, "pin", screen="counter")
    _choose(site, "clinic_visit")
    assert "Rina Lestari" in site.get("/counter/clinic/patient").get_data(as_text=True)
    site.post("/counter/clinic/patient", data={"patient": child.id}, headers=SAME_ORIGIN)
    site.post("/counter/clinic/kind", data={"kind": "immunisation"}, headers=SAME_ORIGIN)
    check = site.get("/counter/clinic/check")
    registered = site.post("/counter/clinic/check", data={"key": _key(check)},
                           headers=SAME_ORIGIN)
    assert registered.headers["Location"].endswith("notice=visit_registered")
    fact = session().scalars(select(ServiceFact).where(ServiceFact.kind == "visit")).one()
    assert fact.citizen_id == child.id
    assert audit_log(action="counter.served")[-1]["actor"] == clerk.username


def test_a_document_is_issued_once_and_opens_as_a_signed_pdf(site, clerk, holder, visit,
                                                             household):
    household(head=holder)
    visit(holder, "pin", screen="counter")
    _choose(site, "document")
    site.post("/counter/documents", data={"kind": "family_card_extract"}, headers=SAME_ORIGIN)
    key = _key(site.get("/counter/documents/check"))
    first = site.post("/counter/documents/check", data={"key": key}, headers=SAME_ORIGIN)
    second = site.post("/counter/documents/check", data={"key": key}, headers=SAME_ORIGIN)
    assert first.headers["Location"] == second.headers["Location"]
    ready = site.get(first.headers["Location"]).get_data(as_text=True)
    pdf = site.get(re.search(r'id="open-pdf" href="([^"]+)"', ready).group(1))
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert session().scalar(select(func.count()).select_from(IssuedDocument).where(
        IssuedDocument.citizen_id == holder.id)) == 1


def test_a_tap_at_the_counter_opens_only_the_pin_unblock(site, clerk, holder, visit,
                                                        audit_log):
    visit(holder, "tap", screen="counter")
    assert site.get("/counter/citizen").headers["Location"].endswith("/counter/")
    page = site.get("/counter/unblock")
    assert page.status_code == 200 and holder.national_number in page.get_data(as_text=True)
    vouched = site.post("/counter/unblock", data={"checked": "yes"}, headers=SAME_ORIGIN)
    assert vouched.headers["Location"].endswith("/counter/unblock/keypad")
    authorised = audit_log(action="card.pin_unblock")[-1]
    assert (authorised["actor"], authorised["outcome"]) == (clerk.username, "ok")


def test_a_pin_unblock_needs_the_clerks_check(site, clerk, holder, visit, audit_log):
    visit(holder, "tap", screen="counter")
    page = site.post("/counter/unblock", data={}, headers=SAME_ORIGIN)
    assert page.status_code == 400 and 'href="#checked"' in page.get_data(as_text=True)
    assert not audit_log(action="card.pin_unblock")
