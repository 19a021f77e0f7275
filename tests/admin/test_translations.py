"""Four languages, complete: every message translated, compiled catalogues current, no
visible text that escaped translation, and no words of commerce for a citizen."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from admin.common.i18n import LANGUAGES, TRANSLATIONS
from tests.admin.conftest import SAME_ORIGIN

ADMIN = Path(__file__).resolve().parents[2] / "admin"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None,
            "lazy_gettext": None}
OPEN, CLOSE = "⟦", "⟧"


def _catalogue(language: str) -> Catalog:
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def _extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ADMIN), method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2")],
            keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    catalogue = _catalogue(language)
    missing = [m.id for m in catalogue if m.id and (
        m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))]
    assert missing == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_holds_every_message_the_screens_use(language):
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in _catalogue(language) if m.id}
    assert _extracted() - ids == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(language):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(mo) if m.id}
    assert compiled == {_key(m.id): _key(m.string) for m in _catalogue(language) if m.id}


def _key(value: str | tuple | list) -> str | tuple:
    return value if isinstance(value, str) else tuple(value)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_citizen_is_called_a_customer_nor_served_a_payment(language):
    words = re.compile(r"\b(customer|payment)s?\b", re.IGNORECASE)
    for message in _catalogue(language):
        texts = [message.id] if isinstance(message.id, str) else list(message.id)
        assert not any(words.search(text) for text in texts if text), message.id


class _VisibleText(HTMLParser):
    """Text a person sees: outside translate="no", scripts, styles and hidden parts."""

    VOID = {"meta", "link", "input", "br", "img", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        values = dict(attrs)
        skip = (values.get("translate") == "no" or tag in ("script", "style", "title")
                or "hidden" in values)
        self.stack.append(skip or bool(self.stack and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and not (self.stack and self.stack[-1]):
            self.texts.append(data.strip())


@pytest.fixture
def pseudo(app, tmp_path):
    """The screens speak a pseudo-language: every translation is its msgid in brackets,
    served as Indonesian, so text never wrapped for translation stands out."""
    source = _catalogue("en")
    catalogue = Catalog(locale="id")
    for message in source:
        if message.id:
            string = tuple(f"{OPEN}{s}{CLOSE}" for s in message.string) \
                if isinstance(message.string, tuple) else f"{OPEN}{message.string}{CLOSE}"
            catalogue.add(message.id, string)
    folder = tmp_path / "id" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    (folder / "messages.mo").write_bytes(buffer.getvalue())
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(tmp_path)
    return app


def _untranslated(html: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    return [t for t in parser.texts if OPEN not in t and t not in ("·",)]


def test_every_visible_text_on_the_kiosk_is_translated(pseudo, site, visit, citizen,
                                                       household, fund):
    head = citizen(language="id")
    fund("food", "groceries", household(head=head, welfare_decile=2), 200_000)
    pages = ["/kiosk/?lang=id", "/kiosk/?lang=id&problem=pin_blocked", "/kiosk/pin?lang=id"]
    visit(head, "pin")
    pages += ["/kiosk/home?lang=id", "/kiosk/more?lang=id", "/kiosk/access-log?lang=id"]
    problems = {path: _untranslated(site.get(path).get_data(as_text=True)) for path in pages}
    assert {path: texts for path, texts in problems.items() if texts} == {}


def test_every_visible_text_on_the_agents_screens_is_translated(pseudo, site, visit,
                                                               staff_account, citizen,
                                                               household, fund):
    head = citizen(language="id")
    fund("food", "groceries", household(head=head, welfare_decile=2), 200_000)
    pages = ["/agent/?lang=id"]
    problems = {path: _untranslated(site.get(path).get_data(as_text=True)) for path in pages}
    agent = staff_account("agent", password="a long enough agent password")
    site.post("/agent/sign-in", data={"username": agent.username, "password": agent.password},
              headers=SAME_ORIGIN)
    visit(head, "pin", screen="agent")
    pages = ["/agent/?lang=id", "/agent/pin?lang=id", "/agent/sale?lang=id",
             "/agent/confirm?lang=id&programme=food&amount=1000&category=rice",
             "/agent/day?lang=id"]
    problems.update({path: _untranslated(site.get(path).get_data(as_text=True))
                     for path in pages})
    assert {path: texts for path, texts in problems.items() if texts} == {}
