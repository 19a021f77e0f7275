"""A citizen at the kiosk, in a real browser, with the card in the real PC/SC stack."""

from __future__ import annotations

import re
import subprocess

import pytest

from backend.demo import DEMO_PIN
from tests.browser.conftest import assert_nothing_stored, shoot

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _tap(page, stack, card):
    page.goto(f"{stack.origin}/kiosk/")
    card.insert()
    page.wait_for_url(re.compile(r"/kiosk/home$"), timeout=10_000)
    page.locator("[data-balance]").first.wait_for(state="visible")


def _enter_pin(page, pin=DEMO_PIN):
    page.wait_for_selector("#pin-pad")
    for digit in pin:
        page.click(f'#pin-pad [data-digit="{digit}"]')
    page.click('#pin-pad [data-key="ok"]')


def test_a_tap_shows_the_balances_in_bahasa_indonesia(kiosk_page, stack, kiosk_card):
    _tap(kiosk_page, stack, kiosk_card)
    assert kiosk_page.get_attribute("html", "lang") == "id"
    assert re.search(r"Rp\d{1,3}(\.\d{3})+", kiosk_page.inner_text("main"))
    shoot(kiosk_page, "kiosk-scenario-tap")


def test_the_pin_opens_a_statement_to_download(kiosk_page, stack, kiosk_card, tmp_path):
    _tap(kiosk_page, stack, kiosk_card)
    kiosk_page.click("#more")
    kiosk_page.wait_for_url(re.compile(r"/kiosk/pin$"))
    shoot(kiosk_page, "debug-pin")
    _enter_pin(kiosk_page)
    kiosk_page.wait_for_url(re.compile(r"/kiosk/more$"))
    assert DEMO_PIN not in kiosk_page.content()
    assert_nothing_stored(kiosk_page)
    with kiosk_page.expect_download() as download:
        kiosk_page.click("#statement")
    pdf = tmp_path / "statement.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "REKENING" in text and stack.citizen["name"] in text
    assert DEMO_PIN not in stack.logs()


def test_removing_the_card_blanks_the_screen_and_ends_the_session(kiosk_page, stack,
                                                                   kiosk_card):
    _tap(kiosk_page, stack, kiosk_card)
    kiosk_card.remove(wait=False)
    kiosk_page.wait_for_url(re.compile(r"/kiosk/$"), timeout=5_000)
    assert not kiosk_page.locator("[data-balance]").count()
    kiosk_page.go_back()
    assert not kiosk_page.locator("[data-balance]").count()
    open_sessions = stack.sql("SELECT count(*) FROM card_sessions WHERE ended_at IS NULL "
                              "AND terminal_kind = 'kiosk' AND created_at > "
                              "datetime('now', '-60 seconds')")
    assert open_sessions == [(0,)]


def test_locking_tap_use_makes_the_next_tap_ask_for_the_pin(kiosk_page, stack, kiosk_card):
    _tap(kiosk_page, stack, kiosk_card)
    kiosk_page.click("#more")
    _enter_pin(kiosk_page)
    kiosk_page.wait_for_url(re.compile(r"/kiosk/more$"))
    kiosk_page.click("#tap-lock")
    kiosk_page.wait_for_selector("#tap-unlock")
    kiosk_card.remove()
    kiosk_page.wait_for_url(re.compile(r"/kiosk/$"))
    kiosk_card.insert()
    kiosk_page.wait_for_url(re.compile(r"/kiosk/pin\?why=locked$"), timeout=10_000)
    shoot(kiosk_page, "kiosk-scenario-locked")
    _enter_pin(kiosk_page)
    kiosk_page.wait_for_url(re.compile(r"/kiosk/home$"))
    kiosk_page.goto(f"{stack.origin}/kiosk/more")
    kiosk_page.click("#tap-unlock")
    kiosk_page.wait_for_selector("#tap-lock")


def test_a_wrong_pin_says_how_many_tries_are_left_in_plain_words(kiosk_page, stack,
                                                                 kiosk_card):
    _tap(kiosk_page, stack, kiosk_card)
    kiosk_page.click("#more")
    _enter_pin(kiosk_page, "999999")
    message = kiosk_page.locator("[data-pin-message]")
    message.wait_for(state="visible")
    kiosk_page.wait_for_timeout(500)
    assert re.search(r"\b2\b", message.inner_text()), message.inner_text()
    assert "pin_invalid" not in kiosk_page.inner_text("body")
    assert "999999" not in kiosk_page.content()
    _enter_pin(kiosk_page)  # the right PIN resets the card's counter
    kiosk_page.wait_for_url(re.compile(r"/kiosk/more$"))
