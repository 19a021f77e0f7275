"""A clerk at the service counter, in a real browser, with the card in the real PC/SC
stack: the citizen's card and PIN open their record after the clerk names the purpose,
the clerk registers a clinic visit, and the citizen then sees that read at a kiosk.
Every counter screen is checked with axe and saved for a person to look at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from backend.demo import DEMO_PIN
from tests.browser.checks import _TARGETS, axe_violations, raw_codes, small_or_clipped_text
from tests.browser.conftest import AGENT_VIEWPORT, LANGUAGES, _close, _fresh_page, shoot
from tests.browser.staff import sign_in

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]
STAFF_TARGET = 44  # staff screens: WCAG 2.5.5's 44 px (common/staff.css)
STAFF_TEXT = 14
VISIT_PURPOSE = "register a clinic visit at a service counter"


@pytest.fixture
def counter_page(browser: Any, stack: Any) -> Iterator[Any]:
    context, page = _fresh_page(browser, AGENT_VIEWPORT)
    yield page
    _close(context, page)


@pytest.fixture
def counter_card(stack: Any) -> Iterator[Any]:
    """The citizen's card for the counter's reader (the counter's daemon runs meanwhile)."""
    stack.sql("UPDATE cards SET tap_locked = 0, tap_locked_at = NULL")
    with stack.counter_reader() as card:
        yield card
        if card.proc is not None:
            card.remove()


@pytest.fixture
def covered(stack: Any) -> None:
    """The scenario's citizen has health coverage (a clinic visit needs it)."""
    stack.sql("INSERT OR IGNORE INTO health_assignments (citizen_id, facility_code, "
              "facility_name, jkn_class, premium_assisted, active) VALUES (?, 'PKM-01', "
              "'Puskesmas Demo', 3, 1, 1)", stack.citizen["id"])
    stack.sql("UPDATE health_assignments SET active = 1 WHERE citizen_id = ?",
              stack.citizen["id"])


def check(page: Any, name: str, stack: Any) -> None:
    """axe (0 serious or critical), targets, clipping and plain words; a screenshot."""
    page.wait_for_load_state("networkidle")
    shoot(page, f"counter-{name}")
    small = [f"{t['name']!r} {t['w']:.0f}x{t['h']:.0f}" for t in page.evaluate(_TARGETS)
             if t["w"] < STAFF_TARGET - 0.5 or t["h"] < STAFF_TARGET - 0.5]
    found = {"axe": axe_violations(page), "small targets": small,
             "text": small_or_clipped_text(page, STAFF_TEXT),
             # the national and family card numbers are the clerk's to read
             "raw codes": [c for c in raw_codes(page) if not re.fullmatch(r"\d{16}", c)]}
    assert {k: v for k, v in found.items() if v} == {}, name


def signed_in(page: Any, stack: Any) -> None:
    """The demo's clerk signs in (in the page's own language) and lands on the counter."""
    sign_in(page, stack, ("clerk", stack.setup["passwords"]["clerk"]), r"/counter/$",
            lang=None)


def type_digits(page: Any, pad: str, digits: str) -> None:
    for digit in digits:
        page.click(f'#{pad} [data-digit="{digit}"]')
    page.click(f'#{pad} [data-key="ok"]')


def card_and_pin(page: Any, stack: Any, card: Any) -> None:
    card.insert()
    page.wait_for_url(re.compile(r"/counter/pin$"), timeout=10_000)
    check(page, "2-pin", stack)
    type_digits(page, "pin-pad", DEMO_PIN)
    page.wait_for_url(re.compile(r"/counter/purpose$"), timeout=10_000)


def choose(page: Any, label_for: str) -> None:
    page.click(f"label[for={label_for}]")
    page.click("#continue")


def test_a_clerk_registers_a_clinic_visit_and_the_citizen_sees_the_read_at_a_kiosk(
        counter_page, kiosk_page, stack, counter_card, kiosk_card, covered):
    page = counter_page
    signed_in(page, stack)
    check(page, "1-waiting", stack)
    card_and_pin(page, stack, counter_card)
    assert stack.citizen["name"] not in page.inner_text("main")
    check(page, "3-purpose", stack)
    page.click("#continue")  # nothing chosen: the error summary takes the focus
    page.wait_for_selector(".error-summary")
    assert page.title().startswith("Kesalahan:")  # "Error:" in Bahasa Indonesia
    # The page's script moves the focus once it runs, a moment after the summary shows.
    page.wait_for_function("document.activeElement.classList.contains('error-summary')",
                           timeout=10_000)
    check(page, "3-purpose-error", stack)
    choose(page, "purpose-clinic_visit")
    page.wait_for_url(re.compile(r"/counter/citizen$"))
    assert stack.citizen["name"] in page.inner_text("[data-citizen-name]")
    check(page, "4-citizen", stack)
    page.click("#action-clinic_visit")
    page.wait_for_url(re.compile(r"/counter/clinic/(patient|kind)$"))
    if page.url.endswith("/patient"):
        check(page, "5-clinic-patient", stack)
        page.click("fieldset .choice:first-of-type label")
        page.click("#continue")
        page.wait_for_url(re.compile(r"/counter/clinic/kind$"))
    check(page, "6-clinic-kind", stack)
    choose(page, "kind-general")
    page.wait_for_url(re.compile(r"/counter/clinic/check$"))
    check(page, "7-clinic-check", stack)
    page.click("#register")
    page.wait_for_url(re.compile(r"/counter/citizen\?notice=visit_registered$"))
    check(page, "8-visit-registered", stack)
    counter_card.remove(wait=False)
    page.wait_for_url(re.compile(r"/counter/$"), timeout=5_000)
    assert stack.citizen["name"] not in page.content()

    kiosk_page.goto(f"{stack.origin}/kiosk/")
    kiosk_card.insert()
    kiosk_page.wait_for_url(re.compile(r"/kiosk/home$"), timeout=10_000)
    kiosk_page.click("#more")
    kiosk_page.wait_for_url(re.compile(r"/kiosk/pin"))
    type_digits(kiosk_page, "pin-pad", DEMO_PIN)
    kiosk_page.wait_for_url(re.compile(r"/kiosk/more$"), timeout=10_000)
    kiosk_page.click("#access-log")
    kiosk_page.wait_for_url(re.compile(r"/kiosk/access-log$"))
    newest = kiosk_page.inner_text("[data-access-log] tbody tr:first-child")
    assert VISIT_PURPOSE in newest and "Demo counter" in newest
    assert "Petugas loket layanan" in newest  # the clerk's role, never their name
    shoot(kiosk_page, "counter-9-kiosk-who-saw-my-data")


def test_every_other_counter_screen_is_accessible(counter_page, stack, counter_card):
    page = counter_page
    origin = stack.origin
    signed_in(page, stack)
    card_and_pin(page, stack, counter_card)
    choose(page, "purpose-question")
    page.wait_for_url(re.compile(r"/counter/citizen$"))
    for name, path in (("10-payout", "/counter/payout"), ("11-documents", "/counter/documents"),
                       ("12-lost", "/counter/lost"), ("13-replace", "/counter/replace"),
                       ("14-unblock-vouch", "/counter/unblock")):
        page.goto(origin + path)
        check(page, name, stack)
    page.goto(f"{origin}/counter/documents")
    page.click("#continue")
    page.wait_for_selector(".error-summary")
    check(page, "11-documents-error", stack)
    choose(page, "kind-domicile_letter")
    page.wait_for_url(re.compile(r"/counter/documents/purpose$"))
    check(page, "15-document-purpose", stack)
    choose(page, "purpose-general")
    page.wait_for_url(re.compile(r"/counter/documents/check$"))
    check(page, "16-document-check", stack)
    page.click("#issue")
    page.wait_for_url(re.compile(r"/counter/documents/[a-z0-9]+$"))
    check(page, "17-document-ready", stack)
    pdf = page.request.get(origin + page.get_attribute("#open-pdf", "href"))
    assert pdf.headers["content-type"] == "application/pdf"
    page.goto(f"{origin}/counter/clinic/kind")
    choose(page, "kind-antenatal")
    page.wait_for_url(re.compile(r"/counter/clinic/due-date$"))
    page.fill("#due-day", "31")
    page.fill("#due-month", "2")
    page.fill("#due-year", "2030")
    page.click("#continue")
    page.wait_for_selector(".error-summary")
    check(page, "18-due-date-error", stack)


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "id"])
def test_the_counter_screens_in_the_other_languages(counter_page, stack, counter_card,
                                                    language):
    """The walk above is in the counter's own language (Indonesian); these are the same
    screens in the city's other languages."""
    page = counter_page
    signed_in(page, stack)
    card_and_pin(page, stack, counter_card)
    choose(page, "purpose-question")
    page.wait_for_url(re.compile(r"/counter/citizen$"))
    for name, path in (("4-citizen", "/counter/citizen"), ("10-payout", "/counter/payout"),
                       ("11-documents", "/counter/documents"), ("12-lost", "/counter/lost"),
                       ("13-replace", "/counter/replace"), ("14-unblock-vouch",
                                                            "/counter/unblock"),
                       ("6-clinic-kind", "/counter/clinic/kind")):
        page.goto(f"{stack.origin}{path}?lang={language}")
        assert page.get_attribute("html", "lang") == language, path
        check(page, f"{name}-{language}", stack)


def test_a_blocked_pin_is_unblocked_with_the_puk_on_the_counters_keypad(
        counter_page, stack, counter_card):
    page = counter_page
    signed_in(page, stack)
    counter_card.insert()
    page.wait_for_url(re.compile(r"/counter/pin$"), timeout=10_000)
    for _ in range(3):  # the card blocks its PIN after the third wrong one
        page.wait_for_selector('#pin-pad [data-key="ok"]')
        type_digits(page, "pin-pad", "999999")
        page.wait_for_timeout(300)
    page.wait_for_url(re.compile(r"/counter/unblock$"), timeout=10_000)
    check(page, "20-unblock-vouch", stack)
    page.check("#checked")
    page.click("#vouch")
    page.wait_for_url(re.compile(r"/counter/unblock/keypad$"))
    check(page, "21-unblock-keypad", stack)
    type_digits(page, "unblock-pad", stack.issued["puk"])
    type_digits(page, "unblock-pad", DEMO_PIN)
    type_digits(page, "unblock-pad", DEMO_PIN)
    page.wait_for_selector("[data-unblock-done]:not([hidden])", timeout=10_000)
    assert stack.issued["puk"] not in page.content()
    page.wait_for_url(re.compile(r"/counter/pin$"), timeout=10_000)
    type_digits(page, "pin-pad", DEMO_PIN)  # the new PIN opens the visit
    page.wait_for_url(re.compile(r"/counter/purpose$"), timeout=10_000)
    assert stack.issued["puk"] not in stack.logs()
