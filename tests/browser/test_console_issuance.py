"""Issuing a card at an enrolment desk, in a real browser against the real stack: an
admin asks the desk for a card for a person without one, a blank card goes into the
desk's reader, the request's page follows the desk until the card works, and the new
card then taps at the kiosk. The Issuance and Programmes pages pass axe in every
language, with a screenshot of each (test-output/screens/console-issuance-*,
console-programme-*)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from card_reader.stack import VirtualCard
from tests.browser.checks import axe_violations
from tests.browser.conftest import KIOSK_VIEWPORT, LANGUAGES, _close, _fresh_page, shoot
from tests.browser.staff import sign_in, staff_account

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]

DESK_WAIT = 60_000  # a blank card's keys are made on the (virtual) card: seconds each
OPEN = "('requested', 'claimed', 'keys_certified', 'failed')"
PROGRAMME = "food"


@pytest.fixture(scope="module")
def issuing_admin(stack: Any) -> tuple[str, str]:
    """An admin of the tests' own, made the way a city makes one."""
    return staff_account(stack, "issuer", "admin", "Issuance test admin")


@pytest.fixture
def console_page(staff_page: Any, stack: Any, issuing_admin: tuple[str, str]) -> Any:
    """A staff page with the admin signed in, on the console's overview."""
    sign_in(staff_page, stack, issuing_admin, r"/console/$")
    return staff_page


def _person_without_a_card(stack: Any) -> tuple[int, str, str]:
    """A living adult with no card and no card being made (from the far end of the
    register: other tests take theirs from the front)."""
    return stack.sql(
        "SELECT id, national_number, full_name FROM citizens WHERE died_on IS NULL AND "
        "birth_date <= '2000-01-01' AND id NOT IN (SELECT citizen_id FROM cards) AND id NOT "
        f"IN (SELECT citizen_id FROM issuance_jobs WHERE status IN {OPEN}) "
        "ORDER BY id DESC LIMIT 1")[0]


def _ask_for_a_card(page: Any, stack: Any, number: str) -> int:
    """Issuance, Issue a card, the number and the desk, the check, the start: the job."""
    page.click(".sub-nav >> text=Issuance")
    page.click("a[data-issue]")
    page.fill("#number", number)
    page.select_option("#desk", stack.setup["desk"]["terminal_id"])
    page.click("form button[type=submit].primary")
    page.locator("[data-confirm]").wait_for()
    page.click("button[data-start]")
    page.wait_for_url(re.compile(r"/console/issuance/\d+\?done=started"))
    return int(re.search(r"/issuance/(\d+)", page.url).group(1))


def _kiosk_tap(browser: Any, stack: Any, state: Any, citizen_id: int) -> None:
    """The new card, from the same state file, taps at the kiosk: its home page opens,
    through a card session of that citizen's new card."""
    context, kiosk = _fresh_page(browser, KIOSK_VIEWPORT)
    card = VirtualCard(stack.pcscd, state, stack.pcscd.readers[0])
    try:
        kiosk.goto(f"{stack.origin}/kiosk/")
        card.insert()
        kiosk.wait_for_url(re.compile(r"/kiosk/home$"), timeout=15_000)
        kiosk.locator("li.programme").first.wait_for(state="visible")
        shoot(kiosk, "console-issuance-kiosk-tap")
        tapped = stack.sql(
            "SELECT cards.citizen_id FROM card_sessions JOIN cards ON cards.id = "
            "card_sessions.card_id WHERE card_sessions.terminal_kind = 'kiosk' "
            "ORDER BY card_sessions.id DESC LIMIT 1")
        assert tapped == [(citizen_id,)]
    finally:
        card.remove()
        _close(context, kiosk)


def test_an_admin_issues_a_card_at_the_desk_and_it_taps_at_the_kiosk(
        console_page, browser, stack, issuing_admin, tmp_path):
    page = console_page
    citizen_id, number, name = _person_without_a_card(stack)
    state = tmp_path / "new-card.json"
    with stack.desk_reader(state) as blank:
        job_id = _ask_for_a_card(page, stack, number)
        assert name in page.inner_text("[data-person]")
        page.locator("[data-steps][data-status='requested']").wait_for()
        shoot(page, "console-issuance-waiting")
        blank.insert()
        page.locator("[data-steps][data-status='active']").wait_for(timeout=DESK_WAIT)
        assert page.locator("[data-step='activated']").inner_text().count(":") >= 1
        shoot(page, "console-issuance-made")
        blank.remove()
    status, desk_id, requested_by = stack.sql(
        "SELECT status, desk_id, requested_by FROM issuance_jobs WHERE id = ?", job_id)[0]
    assert (status, requested_by) == ("active", issuing_admin[0])
    assert stack.sql("SELECT status FROM cards WHERE citizen_id = ?", citizen_id) == [
        ("active",)]
    _kiosk_tap(browser, stack, state, citizen_id)


def _checked(page: Any, name: str, lang: str, problems: dict[str, list[str]]) -> None:
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == lang, name
    shoot(page, f"console-{name}-{lang}")
    found = axe_violations(page)
    if found:
        problems[f"{name} [{lang}]"] = found


def _with_lang(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def test_the_issuance_and_programme_pages_pass_axe_in_every_language(console_page, stack):
    page = console_page
    desk = stack.setup["desk"]["terminal_id"]
    citizen_id, number, _name = _person_without_a_card(stack)
    job_id = _ask_for_a_card(page, stack, number)  # a card asked for, cancelled at the end
    base = f"{stack.origin}/console"

    def go(path: str) -> Callable[[str], None]:
        return lambda lang: page.goto(_with_lang(base + path, lang))

    def posted(path: str, fill: Callable[[], None], wait: str) -> Callable[[str], None]:
        def arrive(lang: str) -> None:
            page.goto(_with_lang(base + path, lang))
            fill()
            page.click("form button[type=submit].primary")
            page.locator(wait).first.wait_for()
        return arrive

    def issue_form() -> None:
        page.fill("#number", number)
        page.select_option("#desk", desk)

    def bad_amount() -> None:
        page.fill("#p-monthly_amount", "two hundred")

    steps = [
        ("issuance-list", go("/issuance")),
        ("issuance-new", go("/issuance/new")),
        ("issuance-new-error", posted("/issuance/new", lambda: None, ".error-summary")),
        ("issuance-confirm", posted("/issuance/new", issue_form, "[data-confirm]")),
        ("issuance-job", go(f"/issuance/{job_id}")),
        ("issuance-cancel", go(f"/issuance/{job_id}/cancel")),
        ("issuance-retry", go(f"/issuance/{job_id}/retry")),
        ("programme-list", go("/programmes")),
        ("programme", go(f"/programmes/{PROGRAMME}")),
        ("programme-turn-off", go(f"/programmes/{PROGRAMME}/turn-off")),
        ("programme-change", go(f"/programmes/{PROGRAMME}/change")),
        ("programme-change-error", posted(f"/programmes/{PROGRAMME}/change", bad_amount,
                                          ".error-summary")),
    ]
    problems: dict[str, list[str]] = {}
    try:
        for name, arrive in steps:
            for lang in LANGUAGES:
                arrive(lang)
                _checked(page, name, lang, problems)
    finally:  # leave the stack as it was: the card asked for is cancelled
        page.goto(f"{base}/issuance/{job_id}/cancel?lang=en")
        page.click("button[data-confirm-cancel]")
        page.wait_for_url(re.compile(r"done=cancelled"))
    assert stack.sql("SELECT status FROM issuance_jobs WHERE id = ?", job_id) == [
        ("cancelled",)]
    assert not problems, problems
