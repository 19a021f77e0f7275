"""Every screen in Bahasa Indonesia, English, Thai and Vietnamese: accessible (axe,
WCAG 2.2 AA tags), large targets, large text, nothing clipped, Thai drawn in a Thai
font, no raw codes, a speech script. A screenshot of each is saved for a person to
look at (test-output/screens/)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyotp
import pytest

from backend.demo import DEMO_PIN
from tests.browser.checks import every_check
from tests.browser.conftest import LANGUAGES, shoot
from tests.browser.staff import staff_account

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]
KIOSK_TEXT = 28
AGENT_TEXT = 20


def _each_language(page: Any, name: str, min_text: float, problems: dict[str, Any]) -> None:
    """Show the current page in every language; collect what fails."""
    parts = urlsplit(page.url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("lang", "fresh")]
    for lang in LANGUAGES:
        page.goto(urlunsplit(parts._replace(query=urlencode([*query, ("lang", lang)]))))
        page.wait_for_load_state("networkidle")
        assert page.get_attribute("html", "lang") == lang
        shoot(page, f"{name}-{lang}")
        found = every_check(page, min_text)
        if found:
            problems[f"{name} [{lang}]"] = found


def _pin(page: Any) -> None:
    for digit in DEMO_PIN:
        page.click(f'#pin-pad [data-digit="{digit}"]')
    page.click('#pin-pad [data-key="ok"]')


def _walk(page: Any, steps: list[tuple[str, Callable[[], None]]], min_text: float) -> None:
    problems: dict[str, Any] = {}
    for name, arrive in steps:
        arrive()
        _each_language(page, name, min_text, problems)
    assert problems == {}


def test_every_kiosk_screen_in_every_language(kiosk_page, stack, kiosk_card):
    page = kiosk_page
    origin = stack.origin

    def home() -> None:
        kiosk_card.insert()
        page.wait_for_url(re.compile(r"/kiosk/home"), timeout=10_000)

    def more() -> None:
        page.goto(f"{origin}/kiosk/pin?lang=id")
        _pin(page)
        page.wait_for_url(re.compile(r"/kiosk/more"), timeout=10_000)

    _walk(page, [
        ("kiosk-1-welcome", lambda: page.goto(f"{origin}/kiosk/")),
        ("kiosk-2-blocked-card", lambda: page.goto(f"{origin}/kiosk/?problem=pin_blocked")),
        ("kiosk-3-programmes", home),
        ("kiosk-4-pin", lambda: page.goto(f"{origin}/kiosk/pin")),
        ("kiosk-5-more", more),
        ("kiosk-6-programmes-with-pin", lambda: page.goto(f"{origin}/kiosk/home")),
        ("kiosk-7-who-saw-my-data", lambda: (stack.staff_read("verifikasi bantuan sosial"),
                                             page.goto(f"{origin}/kiosk/access-log"))),
    ], KIOSK_TEXT)


def test_every_agent_screen_in_every_language(agent_page, stack, agent_card):
    page = agent_page
    origin = stack.origin

    def signed_in() -> None:
        page.goto(f"{origin}/agent/?lang=en")
        page.fill("#username", "agent")
        page.fill("#password", stack.setup["agent_password"])
        page.click("button[type=submit].primary")
        page.wait_for_selector("[data-status]")

    def pin() -> None:
        agent_card.insert()
        page.wait_for_url(re.compile(r"/agent/pin"), timeout=10_000)

    def sale() -> None:
        _pin(page)
        page.wait_for_url(re.compile(r"/agent/sale"), timeout=10_000)

    def confirm() -> None:
        page.goto(f"{origin}/agent/confirm?programme=food&amount=1000&category=rice")

    def receipt() -> None:
        page.click("#confirm")
        page.wait_for_url(re.compile(r"/agent/receipt/\d+"))

    _walk(page, [
        ("agent-1-sign-in", lambda: page.goto(f"{origin}/agent/")),
        ("agent-2-next-customer", signed_in),
        ("agent-3-pin", pin),
        ("agent-4-sale", sale),
        ("agent-5-confirm", confirm),
        ("agent-6-receipt", receipt),
        ("agent-7-takings", lambda: page.goto(f"{origin}/agent/day")),
    ], AGENT_TEXT)


def test_the_agents_one_time_code_page_in_every_language(agent_page, stack):
    """An agent whose account has TOTP gives the code on a second page."""
    page = agent_page
    username, password = staff_account(stack, "agent-code", "agent", "Agent with a code")
    secret = json.loads(stack.demo.satukartu("staff", "totp", "enable", username,
                                             "--json"))["secret"]
    page.goto(f"{stack.origin}/agent/?lang=en")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/agent/sign-in/code"), timeout=10_000)
    problems: dict[str, Any] = {}
    _each_language(page, "agent-1b-code", AGENT_TEXT, problems)
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit].primary")
    page.wait_for_selector("[data-status]")
    assert problems == {}
