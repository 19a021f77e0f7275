"""An agent at an e-Warong shop redeems food credit: card and PIN choose the card
holder, three taps to a printed receipt, and no text field but the amount."""

from __future__ import annotations

import re
import subprocess

import pytest

from backend.demo import DEMO_PIN
from tests.browser.conftest import assert_nothing_stored, shoot

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _sign_in(page, stack):
    page.goto(f"{stack.origin}/agent/")
    page.fill("#username", "agent")
    page.fill("#password", stack.setup["agent_password"])
    page.click("button[type=submit].primary")
    page.wait_for_selector("[data-status]")


def _card_and_pin(page, card):
    card.insert()
    page.wait_for_url(re.compile(r"/agent/pin"), timeout=10_000)
    for digit in DEMO_PIN:
        page.click(f'#pin-pad [data-digit="{digit}"]')
    page.click('#pin-pad [data-key="ok"]')
    page.wait_for_url(re.compile(r"/agent/sale"), timeout=10_000)


def _balance(page) -> int:
    text = page.locator("input[value=food] + label [data-balance]").inner_text()
    return int(re.sub(r"\D", "", text))


def test_food_credit_is_redeemed_in_three_taps_with_a_printed_receipt(agent_page, stack,
                                                                      agent_card, tmp_path):
    page = agent_page
    _sign_in(page, stack)
    _card_and_pin(page, agent_card)
    assert page.is_checked("#programme-food"), "the food credit is preselected"
    before = _balance(page)
    text_fields = page.locator("input:not([type=hidden]):not([type=radio]), textarea, select")
    assert text_fields.count() == 0
    taps = 0
    page.click("label[for=category-rice]")
    taps += 1
    for digit in "25000":  # the amount: the one thing the agent keys
        page.click(f'#amount-pad [data-digit="{digit}"]')
    page.click("#pay")
    taps += 1
    page.wait_for_url(re.compile(r"/agent/confirm"))
    assert text_fields.count() == 0
    page.click("#confirm")
    taps += 1
    page.wait_for_url(re.compile(r"/agent/receipt/\d+"))
    assert taps <= 3
    shoot(page, "agent-scenario-receipt")
    remaining = before - 25_000
    assert f"{remaining:,}".replace(",", ".") in page.inner_text("[data-remaining]")
    assert page.locator("iframe[data-autoprint]").count() == 1
    pdf = tmp_path / "receipt.pdf"
    reprint = stack.origin + page.get_attribute("#reprint", "href")
    pdf.write_bytes(page.request.get(reprint).body())
    printed = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                             text=True, check=True).stdout
    assert "Saldo setelah" in printed
    assert f"Rp{remaining:,}".replace(",", ".") in printed.replace(" ", "")
    assert_nothing_stored(page)


def test_a_new_card_replaces_the_card_holder_being_served(agent_page, stack, agent_card):
    page = agent_page
    _sign_in(page, stack)
    _card_and_pin(page, agent_card)
    agent_card.remove()
    page.wait_for_url(re.compile(r"/agent/$"), timeout=5_000)
    assert page.locator("[data-balance]").count() == 0
    agent_card.insert()
    page.wait_for_url(re.compile(r"/agent/pin"), timeout=10_000)
    page.goto(f"{stack.origin}/agent/sale")
    assert page.url.endswith("/agent/"), "the removed card's sale is gone"


def test_choosing_another_credit_swaps_in_what_it_needs(agent_page, stack, agent_card):
    page = agent_page
    _sign_in(page, stack)
    _card_and_pin(page, agent_card)
    assert page.locator("#categories").count() == 1
    page.click("label[for=programme-elderly]")  # cash: no kind of goods to choose
    page.locator("#categories").wait_for(state="detached")
    assert page.url.endswith("/agent/sale"), "swapped in place, no navigation"
    page.click('#amount-pad [data-digit="5"]')
    assert "5" in page.inner_text("#amount-display"), "the swapped-in keypad works"
    page.click("label[for=programme-food]")
    page.locator("#categories").wait_for(state="visible")
