"""The kiosk's pages on the hub: what a tap shows, what needs the PIN, what is audited."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from backend.audit.models import AuditRecord
from backend.db import session
from tests.admin.conftest import SAME_ORIGIN


@pytest.fixture
def food_household(citizen, household, fund):
    head = citizen(language="id")
    fund("food", "groceries", household(head=head, welfare_decile=2), 200_000)
    return head


def test_a_tap_shows_the_balance_in_the_citizens_language(site, visit, food_household):
    visit(food_household, "tap")
    page = site.get("/kiosk/home")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'lang="id"' in text and "Rp200.000" in text


def test_every_screen_answer_is_no_store_with_a_strict_policy(site, visit, food_household):
    visit(food_household, "tap")
    page = site.get("/kiosk/home")
    assert page.headers["Cache-Control"] == "no-store"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "connect-src 'self' http://127.0.0.1:7468" in policy


def test_the_session_cookie_is_out_of_reach_of_page_script(site, card_session, food_household):
    token = card_session(food_household, assurance="tap", terminal_kind="kiosk")
    answer = site.post("/kiosk/session", data={"token": token}, headers=SAME_ORIGIN)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_a_session_from_another_kind_of_terminal_opens_no_kiosk_page(site, card_session,
                                                                      food_household):
    token = card_session(food_household, assurance="pin", terminal_kind="agent")
    answer = site.post("/kiosk/session", data={"token": token}, headers=SAME_ORIGIN)
    assert answer.status_code == 409


def test_a_cross_site_hand_over_is_refused(site, card_session, food_household):
    token = card_session(food_household, assurance="tap", terminal_kind="kiosk")
    answer = site.post("/kiosk/session", data={"token": token},
                       headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403


def test_without_a_card_the_kiosk_goes_back_to_its_welcome(site):
    answer = site.get("/kiosk/home")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/kiosk/")


def test_pin_actions_are_not_open_to_a_tap(site, visit, food_household):
    visit(food_household, "tap")
    assert site.get("/kiosk/more").status_code == 303
    assert site.post("/kiosk/statement", headers=SAME_ORIGIN).status_code == 303


def test_after_the_pin_the_home_shows_the_latest_movements(site, visit, food_household):
    visit(food_household, "tap")
    assert 'class="lines"' not in site.get("/kiosk/home").get_data(as_text=True)
    visit(food_household, "pin")
    page = site.get("/kiosk/home")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'class="lines"' in text and text.count("Rp200.000") == 2  # balance and line


def test_the_statement_prints_the_balance_after_the_pin(site, visit, food_household):
    visit(food_household, "pin")
    answer = site.post("/kiosk/statement", headers=SAME_ORIGIN)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.data)).pages)
    assert "200.000" in text and food_household.full_name in text


def test_who_saw_my_data_lists_a_clerks_read(site, visit, food_household, staff_token, client):
    clerk = staff_token("clerk")
    read = client.get(f"/api/v1/citizens/{food_household.id}",
                      query_string={"purpose": "clinic registration"},
                      headers={"Authorization": f"Bearer {clerk}"})
    assert read.status_code == 200
    visit(food_household, "pin")
    page = site.get("/kiosk/access-log").get_data(as_text=True)
    assert "clinic registration" in page


def test_locking_tap_use_is_audited_and_shown(site, visit, food_household):
    visit(food_household, "pin")
    answer = site.post("/kiosk/tap-lock", data={"locked": "1"}, headers=SAME_ORIGIN)
    assert answer.status_code == 303
    assert 'id="tap-unlock"' in site.get("/kiosk/more").get_data(as_text=True)
    actions = session().scalars(select(AuditRecord.action)).all()
    assert "card.tap_lock" in actions


def test_ending_the_visit_ends_the_session_at_the_hub(site, card_session, food_household,
                                                      client):
    token = card_session(food_household, assurance="tap", terminal_kind="kiosk")
    site.post("/kiosk/session", data={"token": token}, headers=SAME_ORIGIN)
    answer = site.post("/kiosk/end", data={"why": "done"}, headers=SAME_ORIGIN)
    assert answer.status_code == 200
    assert client.get("/api/v1/auth/session",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert site.get("/kiosk/home").status_code == 303


def test_a_domicile_letter_is_printed_with_a_chosen_purpose(site, visit, food_household):
    visit(food_household, "pin")
    answer = site.post("/kiosk/documents/civil_documents/domicile_letter",
                       data={"purpose": "school", "key": "kiosk-test-key-1"},
                       headers=SAME_ORIGIN)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"


def test_the_kiosk_speaks_the_citizens_registry_language(site, visit, citizen, household,
                                                         fund):
    holder = citizen(language="th")
    fund("food", "groceries", household(head=holder, welfare_decile=2), 50_000)
    visit(holder, "tap")
    assert 'lang="th"' in site.get("/kiosk/home").get_data(as_text=True)


def test_a_same_site_write_without_the_pages_csrf_token_is_refused(site, card_session,
                                                                    food_household):
    token = card_session(food_household, assurance="tap", terminal_kind="kiosk")
    answer = site.post("/kiosk/session?lang=en", data={"token": token},
                       headers=SAME_ORIGIN | {"X-CSRFToken": "not-the-pages-token"})
    assert answer.status_code == 400
    assert "This page has expired" in answer.get_data(as_text=True)
    assert "sk_card" not in answer.headers.get("Set-Cookie", "")
