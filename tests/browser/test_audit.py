"""The auditor's screen in the browser (SCREENS.md U1, U2): an auditor signs in, verifies
the chain, downloads a signed export whose signature checks with the hub's public key;
every page of the screen passes axe in every language, with a screenshot of each."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.browser.checks import axe_violations, font_families
from tests.browser.conftest import LANGUAGES, shoot
from tests.browser.staff import in_language, sign_in, staff_account

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def auditor(stack):
    """An auditor's account, made the way a city makes one (`satukartu staff add`)."""
    return staff_account(stack, "auditor", "auditor", "Auditor of the browser tests")


def _signed_in(page: Any, stack: Any, auditor: tuple[str, str], lang: str = "en") -> None:
    """The auditor signs in at the staff sign-in and lands on the audit log."""
    sign_in(page, stack, auditor, r"/audit/$", lang=lang)


def test_an_auditor_verifies_the_chain_and_downloads_a_signed_export(staff_page, stack,
                                                                    auditor, tmp_path):
    page = staff_page
    _signed_in(page, stack, auditor)
    assert page.locator("table[data-records] tr[data-seq]").count() > 0

    page.click(".sub-nav >> text=Verify")
    page.click("button[type=submit].primary")
    verdict = page.locator("[data-verify]")
    verdict.wait_for()
    assert verdict.get_attribute("data-verify") == "intact"
    assert int(page.get_attribute("[data-records]", "data-records") or
               page.inner_text("[data-records]").replace(",", "")) > 0

    page.click(".sub-nav >> text=Export")
    stack.demo.satukartu("audit", "checkpoint")  # signs everything recorded until now
    with page.expect_download() as key_download:
        page.click("a[href$='/audit/public-key.pem']")
    key = load_pem_public_key(key_download.value.path().read_bytes())
    page.check("#format-jsonl")
    with page.expect_download() as export_download:
        page.click("form.export-form button[type=submit]")
    assert export_download.value.suggested_filename.endswith(".jsonl")
    lines = [json.loads(line) for line in
             export_download.value.path().read_text("utf-8").splitlines()]
    assert any(line.get("action") == "audit.verify" for line in lines)
    checkpoint = lines[-1]
    assert checkpoint["kind"] == "checkpoint" and checkpoint["covered"], checkpoint
    key.verify(base64.b64decode(checkpoint["signature"]), checkpoint["body"].encode())

    page.check("#format-pdf")
    with page.expect_download() as pdf_download:
        page.click("form.export-form button[type=submit]")
    assert pdf_download.value.path().read_bytes().startswith(b"%PDF")


@contextmanager
def _tampered(stack: Any, seq: int) -> Iterator[None]:
    """Record `seq`'s purpose changed behind the hub's back, as whoever can write the
    database file could; put back exactly afterwards, triggers and all, since the stack
    serves the other browser tests too."""
    with sqlite3.connect(stack.database) as db:
        triggers = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                              "AND tbl_name = 'audit_records'").fetchall()
        (purpose,) = db.execute("SELECT purpose FROM audit_records WHERE seq = ?",
                                (seq,)).fetchone()
        for name, _sql in triggers:
            db.execute(f'DROP TRIGGER "{name}"')
        db.execute("UPDATE audit_records SET purpose = 'curiosity' WHERE seq = ?", (seq,))
    try:
        yield
    finally:
        with sqlite3.connect(stack.database) as db:
            db.execute("UPDATE audit_records SET purpose = ? WHERE seq = ?", (purpose, seq))
            for _name, sql in triggers:
                db.execute(sql)


def _verify(page: Any, origin: str, lang: str) -> Any:
    page.goto(f"{origin}/audit/verify?lang={lang}")
    page.click("button[type=submit].primary")
    verdict = page.locator("[data-verify]")
    verdict.wait_for()
    return verdict


def test_a_tampered_record_is_named_by_its_number_in_every_language(staff_page, stack,
                                                                    auditor):
    page = staff_page
    _signed_in(page, stack, auditor)
    stack.staff_read("pemeriksaan data")
    (seq,) = stack.sql("SELECT max(seq) FROM audit_records WHERE action = "
                       "'citizen.data.read'")[0]
    problems: dict[str, list[str]] = {}
    with _tampered(stack, seq):
        for lang in LANGUAGES:
            verdict = _verify(page, stack.origin, lang)
            assert verdict.get_attribute("data-verify") == "broken"
            assert verdict.get_attribute("data-first-position") == str(seq)
            assert verdict.get_attribute("data-reason") == "edited"
            _checked(page, "audit-4-tampered", lang, problems)
        page.click(f"a[href$='/audit/records/{seq}']")
        assert page.get_attribute("[data-record]", "data-record") == str(seq)
    assert _verify(page, stack.origin, "en").get_attribute("data-verify") == "intact"
    assert problems == {}


def _checked(page: Any, name: str, lang: str, problems: dict[str, list[str]]) -> None:
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == lang
    shoot(page, f"{name}-{lang}")
    found = axe_violations(page)
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"):
        found.append("the page scrolls sideways")
    thai = re.search(r"[\u0e00-\u0e7f]", page.inner_text("h1"))  # once it is translated
    if lang == "th" and thai and "Noto Sans Thai" not in font_families(page, "h1"):
        found.append("Thai is not drawn in Noto Sans Thai")
    if found:
        problems[f"{name} [{lang}]"] = found


def test_every_audit_page_passes_axe_in_every_language(staff_page, stack, auditor):
    page = staff_page
    origin = stack.origin
    _signed_in(page, stack, auditor)
    stack.demo.satukartu("audit", "checkpoint")
    stack.staff_read("verifikasi bantuan sosial")  # a record about the demo's citizen

    def search_by_citizen() -> None:
        page.goto(f"{origin}/audit/")
        page.fill("#national_number", stack.citizen["number"])
        page.click("form.search-form button[type=submit]")
        page.wait_for_url(re.compile(r"/audit/\?citizen="))

    def a_record() -> None:
        page.click("table[data-records] tr[data-action='citizen.data.read'] td.num a")
        page.wait_for_url(re.compile(r"/audit/records/\d+"))

    def a_wrong_search() -> None:
        page.goto(f"{origin}/audit/")
        page.fill("#national_number", "0000")
        page.fill("#from", "2026-11-26T10:00")
        page.fill("#to", "2026-11-26T09:00")
        page.click("form.search-form button[type=submit]")
        page.wait_for_selector(".error-summary")

    steps = [
        ("audit-1-newest", lambda: page.goto(f"{origin}/audit/")),
        ("audit-2-search-by-citizen", search_by_citizen),
        ("audit-3-record", a_record),
        ("audit-5-export", lambda: page.goto(f"{origin}/audit/export")),
        ("audit-6-checkpoints", lambda: page.goto(f"{origin}/audit/checkpoints")),
    ]
    problems: dict[str, list[str]] = {}
    for name, arrive in steps:
        arrive()
        for lang in LANGUAGES:
            in_language(page, lang)
            _checked(page, name, lang, problems)
    for lang in LANGUAGES:  # pages that answer a form: the form is sent in each language
        _verify(page, origin, lang)
        _checked(page, "audit-4-verified", lang, problems)
        page.goto(f"{origin}/audit/?lang={lang}")
        a_wrong_search()
        _checked(page, "audit-7-search-problem", lang, problems)
    assert problems == {}


def test_a_clerk_is_told_the_audit_log_is_not_theirs_in_every_language(staff_page, stack):
    clerk = staff_account(stack, "clerk", "clerk", "Clerk of the audit tests")
    page = staff_page
    sign_in(page, stack, clerk, None)
    problems: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        answer = page.goto(f"{stack.origin}/audit/?lang={lang}")
        assert answer is not None and answer.status == 403
        assert page.get_attribute("[data-problem]", "data-problem") == "403"
        _checked(page, "audit-8-not-for-this-role", lang, problems)
    assert problems == {}
