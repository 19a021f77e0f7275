"""The staff sign-in in a real browser, in every language: the sign-in page, a wrong
password (the error summary takes focus), the one-time code of an account with TOTP, the
staff member's own page, and the page after signing out. Each passes axe with no
serious or critical finding, with a screenshot for a person to look at
(test-output/screens/staff-*)."""

from __future__ import annotations

import json
import re

import pyotp
import pytest

from tests.browser.checks import axe_violations, small_or_clipped_text
from tests.browser.conftest import LANGUAGES, shoot
from tests.browser.staff import sign_in, staff_account

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]

STAFF_TEXT = 14


@pytest.fixture
def auditor_with_code(stack):
    """An auditor whose password needs a one-time code, made as a city makes one (one
    per test: a code is good once, and the next comes 30 seconds later)."""
    username, password = staff_account(stack, "auditor", "auditor",
                                       "Auditor of the browser tests")
    enrolled = json.loads(stack.demo.satukartu("staff", "totp", "enable", username, "--json"))
    return username, password, pyotp.TOTP(enrolled["secret"])


def _looked_at(page, name: str) -> None:
    shoot(page, name)
    assert axe_violations(page) == [], name
    assert small_or_clipped_text(page, STAFF_TEXT) == [], name


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_wrong_password_is_summarised_and_focused_in_every_language(staff_page, stack,
                                                                       language):
    page = staff_page
    page.goto(f"{stack.origin}/staff/sign-in?lang={language}")
    assert page.get_attribute("html", "lang") == language
    _looked_at(page, f"staff-sign-in-{language}")
    page.fill("#username", "nobody-here")
    page.fill("#password", "not the password")
    page.click("button[type=submit].primary")
    page.locator(".error-summary").wait_for()
    # The page's script moves the focus once it runs, a moment after the summary shows.
    page.wait_for_function("document.activeElement.classList.contains('error-summary')",
                           timeout=10_000)
    assert page.locator(".error-summary a").count() >= 1
    _looked_at(page, f"staff-sign-in-wrong-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_auditor_signs_in_with_a_code_and_signs_out_in_every_language(
        staff_page, stack, auditor_with_code, language):
    page = staff_page
    username, password, codes = auditor_with_code
    sign_in(page, stack, (username, password), r"/staff/sign-in/code$", lang=language,
            next_path="/staff/account")
    _looked_at(page, f"staff-code-{language}")
    page.fill("#code", codes.now())
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/staff/account$"), timeout=10_000)
    assert username in page.inner_text("main")
    _looked_at(page, f"staff-account-{language}")
    page.locator("form[action$='/staff/sign-out'] button").first.click()
    page.wait_for_url(re.compile(r"/staff/sign-in\?"), timeout=10_000)
    assert "problem=signed_out" in page.url
    _looked_at(page, f"staff-signed-out-{language}")
    page.goto(f"{stack.origin}/staff/account")
    assert re.search(r"/staff/sign-in", page.url), "the sign-in has ended at the hub"
