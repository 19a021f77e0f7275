"""The admin console in a real browser against the real stack: an admin signs in, finds
the citizen, opens the record with a purpose, puts the card on hold and reinstates it.
Every console page passes axe in every language, with a screenshot of each for a
person to look at (test-output/screens/console-*)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.checks import axe_violations, font_families, small_or_clipped_text
from tests.browser.conftest import LANGUAGES, shoot
from tests.browser.staff import in_language, sign_in, staff_account

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]

STAFF_TARGET = 44  # staff screens' controls (common/staff.css)
STAFF_TEXT = 14
# Controls, and the links that stand alone (inline links in text and tables are exempt
# from target sizes: WCAG 2.5.8's inline exception).
_CONTROLS = """() => {
  const found = [];
  const query = 'button, input:not([type=hidden]), select, textarea, a.button, ' +
                '.sub-nav a, .back-link, .bar a, .actions > a';
  for (const el of document.querySelectorAll(query)) {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || el.closest('[hidden], template')) continue;
    if (el.type === 'radio' || el.type === 'checkbox') continue;
    found.push({name: (el.id || el.textContent || el.name).trim().slice(0, 40),
                w: box.width, h: box.height});
  }
  return found;
}"""


@pytest.fixture(scope="module")
def console_admin(stack: Any) -> tuple[str, str]:
    """An admin of the tests' own, made the way a city makes one (`satukartu staff add`)."""
    return staff_account(stack, "console", "admin", "Console test admin")


@pytest.fixture
def console_page(staff_page: Any, stack: Any, console_admin: tuple[str, str]) -> Any:
    """A staff page with the admin signed in, on the console's overview."""
    sign_in(staff_page, stack, console_admin, r"/console/$")
    return staff_page


def _card_status(stack: Any) -> str:
    return stack.sql("SELECT status FROM cards WHERE serial = ?", stack.issued["serial"])[0][0]


def _open_the_record(page: Any, stack: Any) -> None:
    """Search by name, pick the person, say why: the record."""
    page.click(".sub-nav >> text=Citizens")
    page.fill("#q", stack.citizen["name"])
    page.click("form.search button[type=submit]")
    page.click(f"tr[data-citizen='{stack.citizen['id']}'] a")
    page.wait_for_url(re.compile(r"/purpose\?"))
    page.click("label[for=purpose]")
    page.click("form button[type=submit].primary")
    page.wait_for_url(re.compile(rf"/console/citizens/{stack.citizen['id']}$"))


def test_an_admin_puts_a_citizens_card_on_hold_and_reinstates_it(console_page, stack,
                                                                  console_admin):
    page = console_page
    _open_the_record(page, stack)
    assert stack.citizen["name"] in page.inner_text("h1")
    serial = stack.issued["serial"]
    page.click(f"tr[data-card='{serial}'] a")
    page.click(f"a[href$='/cards/{serial}/suspend']")
    page.fill("#note", "reported missing at the counter")
    page.click("form button[type=submit].primary")
    page.wait_for_url(re.compile(r"done=suspended"))
    assert _card_status(stack) == "suspended"
    page.click(f"a[href$='/cards/{serial}/reinstate']")
    page.click("form button[type=submit].primary")
    page.wait_for_url(re.compile(r"done=reinstated"))
    assert _card_status(stack) == "active"
    steps = stack.sql("SELECT action, actor FROM audit_records WHERE subject_id = ? AND "
                      "action IN ('card.suspend', 'card.reinstate') ORDER BY seq", serial)
    assert steps[-2:] == [("card.suspend", console_admin[0]),
                          ("card.reinstate", console_admin[0])]


def _checked(page: Any, name: str, lang: str, problems: dict[str, list[str]]) -> None:
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == lang, name
    shoot(page, f"console-{name}-{lang}")
    found = axe_violations(page)
    found += [f"{c['name']!r} {c['w']:.0f}x{c['h']:.0f}" for c in page.evaluate(_CONTROLS)
              if c["h"] < STAFF_TARGET - 0.5 or c["w"] < STAFF_TARGET - 0.5]
    found += small_or_clipped_text(page, STAFF_TEXT)
    thai = re.search(r"[\u0e00-\u0e7f]", page.inner_text("h1"))  # once it is translated
    if lang == "th" and thai and "Noto Sans Thai" not in font_families(page, "h1"):
        found.append("Thai is not drawn in Noto Sans Thai")
    if found:
        problems[f"{name} [{lang}]"] = found


def _walk(page: Any, steps: list[tuple[str, Callable[[], None]]]) -> dict[str, list[str]]:
    """Each page in each language: a page reached by a GET is shown again with `?lang=`;
    one that answers a POST (an error, a confirmation, a secret) is reached again."""
    problems: dict[str, list[str]] = {}
    for name, arrive in steps:
        for lang in LANGUAGES:
            arrive(lang)  # type: ignore[call-arg]
            if not page.url.endswith(f"lang={lang}") and page.get_attribute(
                    "html", "lang") != lang:
                in_language(page, lang)
            _checked(page, name, lang, problems)
    return problems


def test_every_console_page_passes_axe_in_every_language(console_page, stack):
    page = console_page
    origin = stack.origin
    person = stack.citizen
    serial = stack.issued["serial"]
    _open_the_record(page, stack)
    household = page.get_attribute("a[href*='/console/households/']", "href")

    def go(path: str) -> Callable[[str], None]:
        return lambda lang: page.goto(f"{origin}{path}{'&' if '?' in path else '?'}"
                                      f"lang={lang}")

    def posted(path: str, fill: Callable[[], None], wait: str) -> Callable[[str], None]:
        def arrive(lang: str) -> None:
            go(path)(lang)
            fill()
            page.click("main form button[type=submit]:not(.secondary)")
            page.wait_for_selector(wait)
        return arrive

    def terminal_form() -> None:
        page.click("label[for=kind-5]")  # an enrolment desk
        page.fill("#name", f"Desk {secrets.token_hex(2)}")

    def staff_form() -> None:
        page.click("label[for=role-2]")
        page.fill("#username", f"clerk.{secrets.token_hex(3)}")
        page.fill("#display_name", "Nur Aini")
        page.click("label[for=way]")

    new_terminal = posted("/console/terminals/new", terminal_form, "[data-client-secret]")
    new_terminal("en")
    terminal = page.get_attribute("main a.button.primary", "href")

    steps: list[tuple[str, Callable[[str], None]]] = [
        ("01-overview", go("/console/")),
        ("02-find-a-person", go(f"/console/citizens?q={person['name']}")),
        ("03-find-error", go("/console/citizens?q=ab")),
        ("04-purpose", go(f"/console/citizens/{person['id']}/purpose")),
        ("05-record", go(f"/console/citizens/{person['id']}")),
        ("06-history", go(f"/console/citizens/{person['id']}/history")),
        ("07-correct", go(f"/console/citizens/{person['id']}/edit")),
        ("08-correct-error", posted(f"/console/citizens/{person['id']}/edit",
                                    lambda: page.fill("#reason", ""), ".error-summary")),
        ("09-death", go(f"/console/citizens/{person['id']}/death")),
        ("10-death-check", posted(f"/console/citizens/{person['id']}/death",
                                  lambda: page.fill("#died_on", "2024-01-02"),
                                  ".consequences")),
        ("12-find-a-card", go("/console/cards")),
        ("13-card", go(f"/console/cards/{serial}")),
        ("14-card-hold", go(f"/console/cards/{serial}/suspend")),
        ("15-card-unblock", go(f"/console/cards/{serial}/pin-unblock")),
        ("16-card-revoke", go(f"/console/cards/{serial}/revoke")),
        ("17-card-revoke-check", posted(f"/console/cards/{serial}/revoke",
                                        lambda: page.select_option("#reason",
                                                                   "keyCompromise"),
                                        ".consequences")),
        ("18-card-replace", go(f"/console/cards/{serial}/replace")),
        ("19-card-not-found", go("/console/cards?serial=0000-0000-0000")),
        ("20-terminals", go("/console/terminals")),
        ("21-terminal-new", go("/console/terminals/new")),
        ("22-terminal-secret", new_terminal),
        ("23-terminal", go(terminal)),
        ("24-terminal-replace-secret", go(f"{terminal}/secret")),
        ("25-terminal-turn-off", go(f"{terminal}/disable")),
        ("26-staff", go("/console/staff")),
        ("27-staff-new", go("/console/staff/new")),
        ("28-staff-new-error", posted("/console/staff/new", lambda: None, ".error-summary")),
        ("29-staff-added", posted("/console/staff/new", staff_form, "[data-password]")),
        ("30-staff-member", go("/console/staff/admin")),
        ("31-staff-turn-off", go("/console/staff/admin/disable")),
        ("32-reports", go("/console/reports")),
    ]
    if household:
        steps.insert(10, ("11-household", go(household)))
    problems = _walk(page, steps)
    assert problems == {}, "\n".join(f"{where}: {found}" for where, found in problems.items())
    assert _card_status(stack) == "active"
    assert stack.sql("SELECT died_on FROM citizens WHERE id = ?", person["id"]) == [(None,)]
