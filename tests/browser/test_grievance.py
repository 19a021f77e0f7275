"""An appeal from a kiosk refusal to a clerk's answer, in real browsers against the real
stack: the kiosk refuses the citizen a document, the citizen appeals with the card and
PIN, a clerk finds it in the queue, takes it and answers it, and the citizen reads the
answer at the kiosk. Each new screen is checked (axe, targets, plain words) and saved."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from backend.demo import DEMO_PIN
from tests.browser.checks import every_check
from tests.browser.conftest import LANGUAGES, shoot
from tests.browser.staff import sign_in, staff_account
from tests.browser.test_counter import card_and_pin, choose, counter_card, counter_page, signed_in  # noqa: F401
from tests.browser.test_counter import check as staff_checked

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]
KIOSK_TEXT = 28
ANSWER = "Your letters today were counted twice by mistake. You may ask for one now."


@pytest.fixture
def quota_used(stack: Any) -> Iterator[None]:
    """Today's civil documents for the citizen are used up: the kiosk refuses the next."""
    today = dt.date.today().isoformat()
    for _ in range(5):
        stack.sql("INSERT INTO service_facts (programme, kind, citizen_id, occurred_on, data) "
                  "VALUES ('civil_documents', 'document_issued', ?, ?, '{\"appeal\": 1}')",
                  stack.citizen["id"], today)
    yield
    stack.sql("DELETE FROM service_facts WHERE programme = 'civil_documents' AND "
              "data = '{\"appeal\": 1}'")


def _kiosk_with_pin(page: Any, stack: Any, card: Any) -> None:
    page.goto(f"{stack.origin}/kiosk/?lang=en")
    card.insert()
    page.wait_for_url(re.compile(r"/kiosk/home$"), timeout=10_000)
    page.click("#more")
    page.wait_for_url(re.compile(r"/kiosk/pin$"))
    for digit in DEMO_PIN:
        page.click(f'#pin-pad [data-digit="{digit}"]')
    page.click('#pin-pad [data-key="ok"]')
    page.wait_for_url(re.compile(r"/kiosk/more"), timeout=10_000)


def _in_each_language(page: Any, check: Callable[[str], None]) -> None:
    """Run `check` on the page as it is (the notice in its query kept) in each language,
    then leave it in English for the steps after."""
    parts = urlsplit(page.url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "lang"]

    def show(lang: str) -> None:
        page.goto(urlunsplit(parts._replace(query=urlencode([*query, ("lang", lang)]))))
        page.wait_for_load_state("networkidle")
        assert page.get_attribute("html", "lang") == lang

    for lang in LANGUAGES:
        show(lang)
        check(lang)
    show("en")


def _kiosk_checked(page: Any, name: str) -> None:
    """The kiosk's checks (K2, K3, K7, K10), in every language: axe (WCAG 2.2 AA), 48 px
    targets, text, plain words; a screenshot of each."""
    def check(lang: str) -> None:
        shoot(page, f"grievance-{name}-{lang}")
        assert every_check(page, KIOSK_TEXT) == {}, f"{name} [{lang}]"
    _in_each_language(page, check)


def _clerk_checked(page: Any, name: str, stack: Any) -> None:
    """The counter's checks (axe, targets, clipping, plain words), in every language."""
    _in_each_language(page, lambda lang: staff_checked(page, f"{name}-{lang}", stack))


def test_a_kiosk_refusal_is_appealed_and_the_clerks_answer_reaches_the_kiosk(
        kiosk_page, staff_page, stack, kiosk_card, quota_used):
    kiosk = kiosk_page
    _kiosk_with_pin(kiosk, stack, kiosk_card)
    kiosk.click("form[action$='/domicile_letter'] button[type=submit]")
    kiosk.wait_for_url(re.compile(r"/kiosk/refused\?"), timeout=10_000)
    assert "reason=rate_limited" in kiosk.url
    _kiosk_checked(kiosk, "1-kiosk-refused")

    kiosk.click("#appeal")
    kiosk.wait_for_url(re.compile(r"/kiosk/appeals\?"), timeout=10_000)
    filed = kiosk.locator("[data-appeal].shown")
    assert filed.get_attribute("data-appeal-status") == "open"
    appeal_id = filed.get_attribute("data-appeal")
    assert kiosk.locator("[data-notice=filed]").is_visible()
    assert filed.locator("[data-due]").inner_text().strip()
    _kiosk_checked(kiosk, "2-kiosk-appeal-sent")
    kiosk_card.remove()

    clerk = staff_page
    account = staff_account(stack, "appeals", "clerk", "Appeals Clerk")
    sign_in(clerk, stack, account, r"/counter/")
    clerk.goto(f"{stack.origin}/counter/appeals?lang=en")
    row = clerk.locator(f"tr[data-appeal='{appeal_id}']")
    assert "Waiting for a clerk" in row.inner_text()
    assert stack.citizen["name"] not in clerk.inner_text("main")  # no names in the queue
    _clerk_checked(clerk, "grievance-3-queue", stack)

    clerk.click(f"#appeal-{appeal_id}")
    clerk.wait_for_url(re.compile(rf"/counter/appeals/{appeal_id}"))
    assert stack.citizen["name"] in clerk.inner_text("main")
    clerk.click("#take")
    clerk.wait_for_url(re.compile(r"notice=taken"))
    assert clerk.locator("[data-assignee]").inner_text() == account[0]
    _clerk_checked(clerk, "grievance-4-taken", stack)
    clerk.check("#outcome-upheld")
    clerk.fill("#reason", ANSWER)
    clerk.click("#resolve")
    clerk.wait_for_url(re.compile(r"notice=resolved"))
    facts = clerk.locator("dl[data-appeal-status]")
    assert facts.get_attribute("data-appeal-status") == "resolved"
    _clerk_checked(clerk, "grievance-5-answered", stack)

    _kiosk_with_pin(kiosk, stack, kiosk_card)
    kiosk.click("#my-appeals")
    kiosk.wait_for_url(re.compile(r"/kiosk/appeals$"))
    answered = kiosk.locator(f"[data-appeal='{appeal_id}']")
    assert answered.get_attribute("data-appeal-status") == "resolved"
    assert answered.locator("[data-outcome]").get_attribute("data-outcome") == "upheld"
    assert answered.locator("[data-resolution]").inner_text() == ANSWER
    assert account[0] not in kiosk.inner_text("main")  # who handled it is not shown
    _kiosk_checked(kiosk, "6-kiosk-answer")


def test_at_the_counter_the_clerk_picks_the_citizens_recorded_refusal(
        kiosk_page, stack, kiosk_card, quota_used, counter_page,  # noqa: F811
        counter_card):  # noqa: F811
    _kiosk_with_pin(kiosk_page, stack, kiosk_card)
    kiosk_page.click("form[action$='/domicile_letter'] button[type=submit]")
    kiosk_page.wait_for_url(re.compile(r"/kiosk/refused\?"), timeout=10_000)
    kiosk_card.remove()

    page = counter_page
    signed_in(page, stack)
    card_and_pin(page, stack, counter_card)
    choose(page, "purpose-appeal")
    page.wait_for_url(re.compile(r"/counter/citizen$"))
    page.click("#action-appeal")
    page.wait_for_url(re.compile(r"/counter/appeal$"))
    offered = page.locator("#refusals input[name=refusal]")
    assert offered.count() >= 1 and offered.first.is_checked()
    _clerk_checked(page, "grievance-7-counter-filing", stack)
    page.click("#file-appeal")
    page.wait_for_url(re.compile(r"/counter/citizen\?notice=appeal_(filed|open)"))
