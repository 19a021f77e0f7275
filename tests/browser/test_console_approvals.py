"""Two admins stop many cards, in a real browser against the real stack: admin A asks to
stop more cards than the threshold (typing the count to confirm), sees no Approve button
and why; admin B approves; the stack's worker carries the job out while the job's page
follows it; and the stopped card is refused at the kiosk. The approvals and jobs pages
pass axe in every language (screenshots test-output/screens/console-approvals-*).

The card stopped is a second citizen's, issued for this test on the shop's reader (lent
for a moment, as the counter's tests do), so the stack's own citizen keeps a working card
for the other browser tests. The other serials of the request name no card in this city:
a bulk revocation counts the serials it is given (the threshold is about them), and the
job lists each unknown serial as a failure of its row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.cards.lifecycle import new_serial
from backend.demo import DEMO_PIN
from card_reader.stack import VirtualCard
from tests.browser.conftest import _close, _fresh_page, shoot
from tests.browser.staff import STAFF_VIEWPORT, sign_in, staff_account
from tests.browser.test_console import _walk

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]

THRESHOLD = 10  # APPROVAL_REVOKE_THRESHOLD's default: the stack's hub keeps it
STATE_WAIT = 30_000


@pytest.fixture(scope="module")
def two_admins(stack: Any) -> tuple[tuple[str, str], tuple[str, str]]:
    """Admin A (who asks) and admin B (who decides), made as a city makes them."""
    return (staff_account(stack, "maker", "admin", "Approvals test maker"),
            staff_account(stack, "checker", "admin", "Approvals test checker"))


@pytest.fixture(scope="module")
def second_card(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A card issued now for another living adult without a card, on the shop's reader:
    its serial and its state file (to insert it at the kiosk later)."""
    number, = stack.sql(
        "SELECT national_number FROM citizens WHERE died_on IS NULL AND id <> ? AND "
        "birth_date <= '2000-01-01' AND id NOT IN (SELECT citizen_id FROM cards) "
        "ORDER BY id LIMIT 1", stack.citizen["id"])[0]
    state = tmp_path_factory.mktemp("second-card") / "card.json"
    with stack._shop_reader_lent():
        card = VirtualCard(stack.pcscd, state, stack.pcscd.readers[1]).insert()
        try:
            issued = json.loads(stack.demo.satukartu(
                "card", "issue", "--citizen", number, "--reader", stack.pcscd.readers[1],
                "--pin", DEMO_PIN, "--json"))
        finally:
            card.remove()
    return {"serial": issued["serial"], "state": state}


def _signed_in(browser: Any, stack: Any, account: tuple[str, str]) -> tuple[Any, Any]:
    context, page = _fresh_page(browser, STAFF_VIEWPORT)
    sign_in(page, stack, account, r"/console/$")
    return context, page


@pytest.fixture
def pages(browser: Any, stack: Any, two_admins: Any) -> Iterator[tuple[Any, Any]]:
    """A's browser and B's, both signed in to the console."""
    maker = _signed_in(browser, stack, two_admins[0])
    checker = _signed_in(browser, stack, two_admins[1])
    yield maker[1], checker[1]
    for context, page in (maker, checker):
        _close(context, page)


def _status(stack: Any, serial: str) -> str:
    return stack.sql("SELECT status FROM cards WHERE serial = ?", serial)[0][0]


def _ask(page: Any, serials: list[str]) -> None:
    """Admin A: the serials, a reason, the count typed wrong once, then right."""
    origin = re.match(r"https?://[^/]+", page.url).group(0)
    page.goto(f"{origin}/console/?lang=en")
    page.click(".sub-nav >> text=Approvals")
    page.click("a[data-stop-many]")
    page.fill("#serials", "\n".join(serials))
    page.select_option("#reason", "keyCompromise")
    page.fill("#note", "a box of cards reported stolen from the print room")
    page.click("main form button[type=submit].primary")
    page.wait_for_selector("[data-needs-second]")
    assert page.inner_text("[data-count]") == str(len(serials))
    shoot(page, "console-approvals-flow-1-check")
    page.fill("#count", str(len(serials) - 1))
    page.click("main form button[type=submit].danger")
    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.closest('.error-summary') !== null")
    shoot(page, "console-approvals-flow-2-count-wrong")
    page.fill("#count", str(len(serials)))
    page.click("main form button[type=submit].danger")
    page.wait_for_url(re.compile(r"/console/approvals/\d+\?done=asked"))


def test_a_second_admin_approves_stopping_many_cards_and_the_kiosk_refuses_the_card(
        pages, stack, second_card, kiosk_page):
    maker, checker = pages
    serial = second_card["serial"]
    serials = [serial, *(new_serial() for _ in range(THRESHOLD))]
    _ask(maker, serials)
    request_url = maker.url.split("?")[0]
    assert maker.locator("[data-approve]").count() == 0
    assert "a second administrator must approve" in maker.inner_text("[data-cannot-decide]")
    assert "needs a second person" in maker.inner_text("[data-needs-second]")
    shoot(maker, "console-approvals-flow-3-maker-waits")
    assert _status(stack, serial) == "active"

    checker.click(".sub-nav >> text=Approvals")
    checker.click(f"a[href='{request_url.removeprefix(stack.origin)}']")
    assert checker.inner_text("[data-maker]") == maker.inner_text("[data-maker]")
    checker.fill("#comment", "checked the list with the print room")
    checker.click("button[data-approve]")
    checker.wait_for_selector("a[data-job]")
    shoot(checker, "console-approvals-flow-4-approved")
    checker.click("a[data-job]")
    checker.wait_for_selector("[data-progress][data-status=finished]", timeout=STATE_WAIT)
    progress = checker.inner_text("[data-progress]")
    assert f"1 of {len(serials)} done, {THRESHOLD} failed" in progress
    shoot(checker, "console-approvals-flow-5-job-finished")
    with checker.expect_download() as download:
        checker.click("a[data-failures]")
    failures = Path(download.value.path()).read_text()
    assert failures.count("not_found") == THRESHOLD and serial not in failures
    assert _status(stack, serial) == "revoked"

    kiosk_page.goto(f"{stack.origin}/kiosk/")
    card = VirtualCard(stack.pcscd, second_card["state"], stack.pcscd.readers[0]).insert()
    try:
        kiosk_page.wait_for_url(re.compile(r"/kiosk/\?problem=card_revoked"), timeout=15_000)
        kiosk_page.wait_for_load_state("networkidle")
        shoot(kiosk_page, "console-approvals-flow-6-kiosk-refuses")
        assert kiosk_page.locator(".problem, [role=alert]").count() >= 1
    finally:
        card.remove()
    assert _status(stack, stack.issued["serial"]) == "active"


def test_the_approvals_and_jobs_pages_pass_axe_in_every_language(pages, stack):
    maker, checker = pages
    origin = stack.origin
    serials = [new_serial() for _ in range(THRESHOLD + 1)]
    _ask(maker, serials)
    request_path = maker.url.split("?")[0].removeprefix(origin)
    checker.goto(f"{origin}{request_path}?lang=en")
    checker.fill("#comment", "unknown serials: let the job list them")
    checker.click("button[data-approve]")
    checker.wait_for_selector("a[data-job]")
    job_path = checker.get_attribute("a[data-job]", "href")
    checker.goto(f"{origin}{job_path}")
    checker.wait_for_selector("[data-progress][data-status=finished]", timeout=STATE_WAIT)

    def go(page: Any, path: str) -> Callable[[str], None]:
        return lambda lang: page.goto(f"{origin}{path}{'&' if '?' in path else '?'}"
                                      f"lang={lang}")

    def posted(page: Any, path: str, fill: Callable[[], None],
               wait: str) -> Callable[[str], None]:
        def arrive(lang: str) -> None:
            go(page, path)(lang)
            fill()
            page.click("main form button[type=submit].primary")
            page.wait_for_selector(wait)
        return arrive

    def bulk_form() -> None:
        maker.fill("#serials", "\n".join(serials))
        maker.select_option("#reason", "keyCompromise")

    checker_steps: list[tuple[str, Callable[[str], None]]] = [
        ("approvals-01-list", go(checker, "/console/approvals")),
        ("approvals-02-request-decided", go(checker, request_path)),
        ("approvals-03-jobs", go(checker, "/console/jobs")),
        ("approvals-04-job", go(checker, job_path)),
    ]
    maker_steps: list[tuple[str, Callable[[str], None]]] = [
        ("approvals-05-stop-many", go(maker, "/console/approvals/stop-cards")),
        ("approvals-06-stop-many-error", posted(maker, "/console/approvals/stop-cards",
                                                lambda: maker.fill("#serials", "x!"),
                                                ".error-summary")),
        ("approvals-07-stop-many-check", posted(maker, "/console/approvals/stop-cards",
                                                bulk_form, "[data-needs-second]")),
        ("approvals-10-import", go(maker, "/console/approvals/import-registry")),
        ("approvals-11-import-error", posted(maker, "/console/approvals/import-registry",
                                             lambda: None, ".error-summary")),
    ]
    problems = {**_walk(checker, checker_steps), **_walk(maker, maker_steps)}
    # A's own pending request: no buttons, the reason instead, and the withdrawal page.
    _ask(maker, serials)
    pending = maker.url.split("?")[0].removeprefix(origin)
    problems.update(_walk(maker, [("approvals-08-own-request", go(maker, pending)),
                                  ("approvals-09-withdraw", go(maker, f"{pending}/cancel"))]))
    assert problems == {}, "\n".join(f"{where}: {found}" for where, found in problems.items())
