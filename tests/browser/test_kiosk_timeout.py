"""The idle warning (WCAG 2.2.1): a countdown of at least 20 s, one tap for more time,
at least ten times; unanswered, the kiosk ends the visit and goes back to welcome."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_an_idle_kiosk_warns_and_can_be_extended_again_and_again(kiosk_page, stack,
                                                                  kiosk_card):
    page = kiosk_page
    page.clock.install()
    page.goto(f"{stack.origin}/kiosk/")
    kiosk_card.insert()
    page.wait_for_url(re.compile(r"/kiosk/home"), timeout=10_000)
    dialog = page.locator("#timeout")
    for _ in range(12):
        page.clock.fast_forward("01:01")
        dialog.wait_for(state="visible")
        assert int(page.inner_text("#countdown")) >= 20
        page.click("#more-time")
        dialog.wait_for(state="hidden")
    assert page.url.endswith("/kiosk/home")


def test_an_unanswered_warning_ends_the_visit(kiosk_page, stack, kiosk_card):
    page = kiosk_page
    page.clock.install()
    page.goto(f"{stack.origin}/kiosk/")
    kiosk_card.insert()
    page.wait_for_url(re.compile(r"/kiosk/home"), timeout=10_000)
    page.clock.fast_forward("01:01")
    page.locator("#timeout").wait_for(state="visible")
    page.clock.run_for("00:31")
    page.wait_for_url(re.compile(r"/kiosk/$"), timeout=10_000)
    page.goto(f"{stack.origin}/kiosk/home")
    assert page.url.endswith("/kiosk/"), "the visit's session is over at the hub"
