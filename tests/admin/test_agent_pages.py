"""The agent's point of sale on the hub: sign-in, the sale, the receipt, the day."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import date

import pytest
from pypdf import PdfReader

from admin.agent import offline
from tests.admin.conftest import SAME_ORIGIN


@pytest.fixture
def food_household(citizen, household, fund):
    head = citizen(language="id")
    fund("food", "groceries", household(head=head, welfare_decile=2), 200_000)
    return head


@pytest.fixture
def agent_signed_in(site, staff_account):
    agent = staff_account("agent", password="a long enough agent password")
    answer = site.post("/agent/sign-in", data={"username": agent.username,
                                               "password": agent.password},
                       headers=SAME_ORIGIN)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return agent


def _sell(site, amount=50_000, category="rice"):
    confirm = site.get("/agent/confirm", query_string={"programme": "food", "amount": amount,
                                                       "category": category})
    assert confirm.status_code == 200, confirm.headers.get("Location")
    key = re.search(r'name="key" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)
    return site.post("/agent/redeem", data={"programme": "food", "amount": amount,
                                            "category": category, "key": key},
                     headers=SAME_ORIGIN)


def test_a_wrong_password_shows_an_error_summary(site, staff_account):
    agent = staff_account("agent", password="a long enough agent password")
    page = site.post("/agent/sign-in?lang=en", data={"username": agent.username,
                                                      "password": "no"}, headers=SAME_ORIGIN)
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and "error-summary" in text
    assert re.search(r"<title>Error:", text)


def test_a_clerk_cannot_sign_in_at_an_agent_screen(site, staff_account):
    clerk = staff_account("clerk", password="a long enough clerk password")
    page = site.post("/agent/sign-in", data={"username": clerk.username,
                                             "password": clerk.password}, headers=SAME_ORIGIN)
    assert page.status_code == 400


def test_the_sale_shows_the_balance_with_the_entitlement_chosen(site, visit, food_household,
                                                               agent_signed_in):
    visit(food_household, "pin", screen="agent")
    page = site.get("/agent/sale").get_data(as_text=True)
    assert "Rp200.000" in page
    assert re.search(r'value="food" id="programme-food" checked', page)


def test_the_redemption_path_has_no_text_field(site, visit, food_household, agent_signed_in):
    visit(food_household, "pin", screen="agent")
    for path in ("/agent/sale", "/agent/confirm?programme=food&amount=1000&category=rice"):
        page = site.get(path).get_data(as_text=True)
        fields = re.findall(r"<input[^>]*>", page)
        assert all('type="hidden"' in f or 'type="radio"' in f for f in fields), fields


def test_a_tap_session_cannot_sell(site, card_session, food_household, agent_signed_in):
    token = card_session(food_household, assurance="tap", terminal_kind="agent")
    answer = site.post("/agent/session", data={"token": token}, headers=SAME_ORIGIN)
    assert answer.status_code == 409


def test_a_sale_prints_a_receipt_with_the_remaining_balance(site, visit, food_household,
                                                           agent_signed_in):
    visit(food_household, "pin", screen="agent")
    answer = _sell(site)
    assert answer.status_code == 303
    receipt_page = site.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Rp150.000" in receipt_page
    pdf_url = re.search(r'id="reprint" href="([^"]+)"', receipt_page).group(1)
    pdf = site.get(pdf_url)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "150.000" in text


def test_a_double_confirm_redeems_once(site, visit, food_household, agent_signed_in):
    visit(food_household, "pin", screen="agent")
    confirm = site.get("/agent/confirm", query_string={"programme": "food",
                                                       "amount": 10_000, "category": "eggs"})
    key = re.search(r'name="key" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)
    form = {"programme": "food", "amount": 10_000, "category": "eggs", "key": key}
    first = site.post("/agent/redeem", data=form, headers=SAME_ORIGIN)
    second = site.post("/agent/redeem", data=form, headers=SAME_ORIGIN)
    assert first.headers["Location"] == second.headers["Location"]
    assert "Rp190.000" in site.get("/agent/sale").get_data(as_text=True)


def test_more_than_the_balance_is_refused_in_plain_words(site, visit, food_household,
                                                        agent_signed_in):
    visit(food_household, "pin", screen="agent")
    answer = _sell(site, amount=200_001)
    page = site.get(answer.headers["Location"]).get_data(as_text=True)
    assert "insufficient_balance" not in page.split("<main")[1]
    assert 'class="problem"' in page


def test_the_days_takings_and_settlement(site, visit, food_household, agent_signed_in):
    visit(food_household, "pin", screen="agent")
    _sell(site, amount=30_000)
    page = site.get("/agent/day").get_data(as_text=True)
    assert "Rp30.000" in page
    closed = site.post("/agent/day", headers=SAME_ORIGIN)
    assert closed.status_code == 303 and "notice=settled" in closed.headers["Location"]


def test_a_receipt_of_another_terminal_is_not_shown(site, visit, food_household,
                                                    agent_signed_in, citizen, household, fund,
                                                    card_session, call_service):
    other = citizen()
    fund("food", "groceries", household(head=other, welfare_decile=2), 100_000)
    token = card_session(other, assurance="pin", terminal_kind="agent")
    sold = call_service(token, "food", "redeem", {"amount": 1000, "items": [
        {"name": "x", "category": "rice", "quantity": 1, "unit_price": 1000}]})
    visit(food_household, "pin", screen="agent")
    assert site.get(f"/agent/receipt/{sold.json['entry_id']}").status_code == 303


def test_a_cash_pay_out_needs_no_category(site, visit, citizen, household, fund,
                                          agent_signed_in):
    elder = citizen(birth_date=date(1950, 1, 1))
    household(head=elder, welfare_decile=2)
    fund("elderly", "allowance", elder, 300_000)
    visit(elder, "pin", screen="agent")
    page = site.get("/agent/sale?programme=elderly").get_data(as_text=True)
    assert 'id="categories"' not in page
    confirm = site.get("/agent/confirm", query_string={"programme": "elderly",
                                                       "amount": 100_000})
    key = re.search(r'name="key" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)
    paid = site.post("/agent/redeem", data={"programme": "elderly", "amount": 100_000,
                                            "key": key}, headers=SAME_ORIGIN)
    assert "Rp200.000" in site.get(paid.headers["Location"]).get_data(as_text=True)


def test_an_agents_sign_in_lasts_the_shift(site, staff_account, app):
    agent = staff_account("agent", password="a long enough agent password")
    answer = site.post("/agent/sign-in", data={"username": agent.username,
                                               "password": agent.password},
                       headers=SAME_ORIGIN)
    max_age = int(re.search(r"Max-Age=(\d+)", answer.headers["Set-Cookie"]).group(1))
    assert max_age == app.config["AGENT_SHIFT_HOURS"] * 3600


def test_signing_out_ends_the_agents_token_at_the_hub(site, agent_signed_in, client):
    token = site.get_cookie("sk_staff").value
    site.post("/agent/sign-out", headers=SAME_ORIGIN)
    whoami = client.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"})
    assert whoami.status_code == 401


def test_the_agents_screen_keeps_the_agents_language(site, visit, citizen, household, fund,
                                                     agent_signed_in):
    holder = citizen(language="th")
    fund("food", "groceries", household(head=holder, welfare_decile=2), 50_000)
    site.get("/agent/?lang=vi")
    visit(holder, "pin", screen="agent")
    assert 'lang="vi"' in site.get("/agent/sale").get_data(as_text=True)


def test_every_agent_page_has_a_live_place_for_the_link_to_the_hub(site, agent_signed_in):
    for path in ("/agent/", "/agent/day"):
        page = site.get(path).get_data(as_text=True)
        assert re.search(r'<div class="link" id="link" role="status" aria-live="polite">', page)
        assert 'data-offline="true"' in page and "common/offline.js" in page


def test_the_kiosk_has_no_offline_mode(site):
    page = site.get("/kiosk/").get_data(as_text=True)
    assert 'data-offline="true"' not in page and "offline.js" not in page


def test_the_idle_page_carries_the_offline_sale_and_its_words(site, agent_signed_in):
    page = site.get("/agent/?lang=en").get_data(as_text=True)
    assert re.search(r'<section class="offline" id="offline"[^>]*hidden', page)
    for part in ("offline-amount-pad", "offline-pin-pad", "offline-done-counter"):
        assert f'id="{part}"' in page
    categories = json.loads(html.unescape(re.search(r"data-categories='([^']*)'", page)[1]))
    assert categories["rice"] == "Rice"
    for reason in offline.REFUSALS:
        assert f'data-refusal="{reason}"' in page
    title = re.search(r'data-refusal="offline_card_cap_exceeded" data-title="([^"]*)"', page)[1]
    assert html.unescape(title) == "This card's offline limit for today is reached"


def test_the_offline_words_are_in_the_pages_language(site, agent_signed_in):
    page = site.get("/agent/?lang=id").get_data(as_text=True)
    assert "Transaksi tanpa sambungan" in page
    assert '"rice": "Beras"' in html.unescape(page)


def test_the_receipt_and_the_day_carry_the_offline_sale_too(site, visit, food_household,
                                                           agent_signed_in):
    visit(food_household, "pin", screen="agent")
    receipt = site.get(_sell(site).headers["Location"]).get_data(as_text=True)
    day = site.get("/agent/day").get_data(as_text=True)
    for page in (receipt, day):
        assert 'id="offline"' in page and 'data-refusal="pin_blocked"' in page


def test_a_card_holders_sale_does_not_carry_the_offline_sale(site, visit, food_household,
                                                            agent_signed_in):
    visit(food_household, "pin", screen="agent")
    assert 'id="offline"' not in site.get("/agent/sale").get_data(as_text=True)
