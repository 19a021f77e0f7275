"""The screens in a real browser against the real stack.

One stack (`stack.py`) serves every browser test of this test process.
Debian's Chromium is driven by Playwright (`executable_path`; Playwright's own browser
download cannot work here). Each test gets a fresh browser context and inserts and
removes the virtual card itself. Screenshots go to `test-output/screens/`.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.demo import DEMO_PIN
from card_reader.stack import PrivatePcscd, VirtualCard
from tests.browser.stack import Stack, running_stack
from tests.browser.staff import STAFF_VIEWPORT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screens"
LANGUAGES = ("id", "en", "th", "vi")
KIOSK_VIEWPORT = {"width": 1920, "height": 1080}
AGENT_VIEWPORT = {"width": 1366, "height": 900}


@pytest.fixture(scope="session")
def stack(pcscd: PrivatePcscd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(pcscd, tmp_path_factory.mktemp("screens") / "instance") as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        print(f"chromium {chromium.version}")  # CI logs the browser's version
        yield chromium
        chromium.close()


def _fresh_page(browser: Any, viewport: dict[str, int]) -> tuple[Any, Any]:
    context = browser.new_context(viewport=viewport, locale="id-ID", accept_downloads=True)
    return context, context.new_page()


def _close(context: Any, page: Any) -> None:
    """Leave the screen first: its event stream to the bridge closes with the page, and
    no stale page is left to react to the next test's card."""
    from playwright.sync_api import Error

    for _ in range(3):  # the page may be leaving by itself (a visit ending): go after it
        try:
            page.goto("about:blank")
            break
        except Error:
            page.wait_for_timeout(200)
    context.close()


@pytest.fixture
def kiosk_page(browser: Any, stack: Stack) -> Iterator[Any]:
    context, page = _fresh_page(browser, KIOSK_VIEWPORT)
    yield page
    _close(context, page)


@pytest.fixture
def agent_page(browser: Any, stack: Stack) -> Iterator[Any]:
    context, page = _fresh_page(browser, AGENT_VIEWPORT)
    # Headless Chromium's PDF viewer crashes the page now and then when a receipt prints
    # itself in its frame; the frame gets a stand-in page, so the print still runs. The
    # receipt's PDF itself is fetched and read by the tests (page.request is not routed).
    page.route(re.compile(r".*/agent/receipt/\d+\.pdf$"), lambda route: route.fulfill(
        status=200, content_type="text/html", body="<p>receipt</p>"))
    yield page
    _close(context, page)


@pytest.fixture
def staff_page(browser: Any, stack: Stack) -> Iterator[Any]:
    """A fresh page the size of a staff member's screen, not yet signed in."""
    context, page = _fresh_page(browser, STAFF_VIEWPORT)
    yield page
    _close(context, page)


@pytest.fixture
def kiosk_card(stack: Stack) -> Iterator[VirtualCard]:
    """The citizen's card, not yet inserted in the kiosk's reader; removed after (and
    open for taps again, whatever the test did to it)."""
    stack.sql("UPDATE cards SET tap_locked = 0, tap_locked_at = NULL")
    card = stack.card("kiosk")
    yield card
    if card.proc is not None:
        card.remove()


@pytest.fixture
def agent_card(stack: Stack) -> Iterator[VirtualCard]:
    card = stack.card("agent")
    yield card
    if card.proc is not None:
        card.remove()


def shoot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_nothing_stored(page: Any) -> None:
    """Nothing of the person in browser storage: localStorage empty; sessionStorage only
    htmx 2's record of the page's path (it writes it on every load, whatever its config)."""
    local, session = page.evaluate("[Object.assign({}, localStorage), "
                                   "Object.assign({}, sessionStorage)]")
    assert local == {}
    assert set(session) <= {"htmx-current-path-for-history"}
    assert all(value.startswith("/") and DEMO_PIN not in value for value in session.values())
