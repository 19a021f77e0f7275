"""A staff member's idle session in the browser (SCREENS.md C4): a warning at 13 minutes
without activity, one action to stay signed in, and at 15 minutes the sign-out, with the
sign-in page saying why. Staff have no cards, so C4's card removal does not apply."""

from __future__ import annotations

import re

import pytest

from tests.browser.checks import axe_violations
from tests.browser.conftest import shoot
from tests.browser.staff import sign_in, staff_account

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def clerk(stack):
    """A clerk's account, made the way a city makes one (`satukartu staff add`)."""
    return staff_account(stack, "clerk", "clerk", "Clerk of the browser tests")


def _signed_in(page, stack, clerk):
    """The clerk signs in on the page (in English) and opens their own staff page."""
    page.clock.install()
    sign_in(page, stack, clerk, r"/staff/account$", next_path="/staff/account")
    return page.locator("#staff-timeout")


def test_the_warning_comes_at_13_minutes_and_stay_signed_in_keeps_the_session(
        staff_page, stack, clerk):
    page = staff_page
    dialog = _signed_in(page, stack, clerk)
    page.clock.fast_forward("12:50")
    assert dialog.is_hidden()
    page.clock.fast_forward("00:11")
    dialog.wait_for(state="visible")
    assert page.get_attribute("#staff-timeout", "role") == "alertdialog"
    assert page.evaluate("document.activeElement.id") == "stay-signed-in"
    minutes, seconds = page.inner_text("#staff-countdown").split(":")
    assert 0 < int(minutes) * 60 + int(seconds) <= 120
    shoot(page, "staff-idle-warning")
    assert axe_violations(page) == []
    with page.expect_response(re.compile(r"/staff/still-here$")) as answered:
        page.click("#stay-signed-in")
    assert answered.value.status == 204
    dialog.wait_for(state="hidden")
    page.clock.fast_forward("12:50")
    assert dialog.is_hidden(), "the clock started again"
    page.reload()
    assert page.url.endswith("/staff/account"), "still signed in"


def test_silence_signs_out_at_15_minutes_and_the_sign_in_page_says_why(staff_page, stack,
                                                                      clerk):
    page = staff_page
    dialog = _signed_in(page, stack, clerk)
    page.clock.fast_forward("13:01")
    dialog.wait_for(state="visible")
    page.clock.run_for("01:58")
    assert page.url.endswith("/staff/account"), "not before 15 minutes"
    page.clock.run_for("00:03")
    page.wait_for_url(re.compile(r"/staff/sign-in\?"), timeout=10_000)
    assert "problem=timed_out" in page.url
    assert "You were signed out because you did nothing for 15 minutes" in page.inner_text(
        "main")
    shoot(page, "staff-timed-out")
    page.goto(f"{stack.origin}/staff/account")
    assert re.search(r"/staff/sign-in", page.url), "the sign-in has ended at the hub"
