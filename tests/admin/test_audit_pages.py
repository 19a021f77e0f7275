"""The auditor's screen on the hub: search, a record, verify, export, checkpoints."""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import text

import admin
from admin.common.sessions import STAFF_COOKIE
from admin.common.staff import SEEN_KEY
from backend.audit.checkpoints import load_public, make_checkpoint
from backend.db import database
from backend.testing.identity import bearer, make_staff
from tests.admin.conftest import SAME_ORIGIN, ScreenClient


def _sign_in(site, token):
    """What a staff sign-in leaves in the browser: the token's cookie, the idle clock."""
    site.set_cookie(STAFF_COOKIE, token)
    with site.session_transaction() as stored:
        stored[SEEN_KEY] = int(time.time())
    return site


@pytest.fixture
def auditor(site, staff_account):
    account = staff_account("auditor")
    _sign_in(site, account.token)
    return account


def _staff_reads(client, clerk_token, person, purpose):
    answer = client.get(f"/api/v1/citizens/{person.id}", query_string={"purpose": purpose},
                        headers=bearer(clerk_token))
    assert answer.status_code == 200, answer.json


def _rows(page):
    """(seq, citizen's national number, purpose) of each row of the results table."""
    html = page.get_data(as_text=True)
    rows = re.findall(r'<tr data-seq="(\d+)"[^>]*data-citizen="([^"]*)">(.*?)</tr>', html,
                      re.S)
    return [(int(seq), number, body) for seq, number, body in rows]


def _search(site, **form):
    posted = site.post("/audit/?lang=en", data=form, headers=SAME_ORIGIN)
    assert posted.status_code == 303, posted.get_data(as_text=True)
    return site.get(posted.headers["Location"])


# --- who may open it ---------------------------------------------------------------

@pytest.mark.parametrize("role", ["clerk", "agent"])
def test_other_staff_roles_are_refused_the_audit_screen(site, staff_account, role):
    _sign_in(site, staff_account(role).token)
    for path in ("/audit/", "/audit/verify", "/audit/export", "/audit/checkpoints",
                 "/audit/public-key.pem"):
        assert site.get(path).status_code == 403, path
    assert site.post("/audit/verify", headers=SAME_ORIGIN).status_code == 403
    assert 'data-problem="403"' in site.get("/audit/?lang=en").get_data(as_text=True)


def test_without_signing_in_the_audit_screen_sends_to_the_staff_sign_in(site):
    answer = site.get("/audit/verify")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/staff/sign-in?next=/audit/verify")


def test_an_admin_may_open_the_audit_screen(site, staff_account):
    _sign_in(site, staff_account("admin").token)
    assert site.get("/audit/").status_code == 200


# --- search ------------------------------------------------------------------------

def test_search_by_national_number_finds_that_citizens_records_and_no_one_elses(
        site, auditor, citizen, staff_token):
    ani, budi = citizen(full_name="Ani Lestari"), citizen(full_name="Budi Hartono")
    clerk = staff_token("clerk")
    _staff_reads(site, clerk, ani, "checking Ani's address")
    _staff_reads(site, clerk, budi, "checking Budi's address")
    page = _search(site, national_number=ani.national_number)
    rows = _rows(page)
    assert rows and {number for _, number, _ in rows} == {ani.national_number}
    assert any("checking Ani&#39;s address" in body for _, _, body in rows)
    assert budi.national_number not in page.get_data(as_text=True)


def test_the_national_number_stays_out_of_the_results_address(site, auditor, citizen):
    ani = citizen()
    posted = site.post("/audit/", data={"national_number": ani.national_number},
                       headers=SAME_ORIGIN)
    assert ani.national_number not in posted.headers["Location"]
    assert f"citizen={ani.id}" in posted.headers["Location"]


def test_an_unknown_national_number_is_named_in_an_error_summary(site, auditor):
    page = site.post("/audit/?lang=en", data={"national_number": "3171010000000001"},
                     headers=SAME_ORIGIN)
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "error-summary" in html
    assert 'href="#national_number"' in html


def test_search_by_staff_terminal_and_action_prefix(site, auditor, citizen, staff_account,
                                                    staff_token):
    clerk = staff_account("clerk")
    _staff_reads(site, clerk.token, citizen(), "by the first clerk")
    _staff_reads(site, staff_token("clerk"), citizen(), "by another clerk")
    rows = _rows(_search(site, staff=clerk.username, action="citizen.data."))
    assert rows and all("by the first clerk" in body for _, _, body in rows)
    assert _rows(_search(site, terminal="no-such-terminal")) == []


def test_search_by_time_keeps_records_outside_the_range_out(site, auditor, citizen,
                                                           staff_token):
    _staff_reads(site, staff_token("clerk"), citizen(), "read today")
    zone = ZoneInfo(site.application.config["CITY_TIMEZONE"])
    now = datetime.now(zone)
    last_week = {"from": (now - timedelta(days=8)).strftime("%Y-%m-%dT%H:%M"),
                 "to": (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")}
    around_now = {"from": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                  "to": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
    assert _rows(_search(site, **last_week)) == []
    assert any("read today" in body for _, _, body in _rows(_search(site, **around_now)))


def test_a_refusal_shows_as_refused_with_its_reason(site, auditor, staff_token):
    site.get("/api/v1/audit/records", headers=bearer(staff_token("clerk")))
    page = _search(site, action="api.audit.")
    html = page.get_data(as_text=True)
    assert 'data-outcome="role_not_allowed"' in html
    assert re.search(r'class="tag bad">Refused</span> <code translate="no">role_not_allowed',
                     html)


def test_a_range_that_ends_before_it_starts_is_refused(site, auditor):
    page = site.post("/audit/?lang=en", data={"from": "2026-11-26T10:00",
                                              "to": "2026-11-26T09:00"}, headers=SAME_ORIGIN)
    assert page.status_code == 400 and 'href="#to"' in page.get_data(as_text=True)


def test_results_are_newest_first_and_page_back_by_sequence_number(site, auditor, citizen,
                                                                   staff_token):
    person, clerk = citizen(), staff_token("clerk")
    for n in range(55):
        _staff_reads(site, clerk, person, f"look {n}")
    first_page = _search(site, national_number=person.national_number)
    seqs = [seq for seq, _, _ in _rows(first_page)]
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    older = re.search(r'href="([^"]+)" data-older', first_page.get_data(as_text=True))
    second = [seq for seq, _, _ in _rows(site.get(older.group(1).replace("&amp;", "&")))]
    assert second and max(second) < min(seqs)


def test_the_search_itself_is_recorded_in_the_audit_log(site, auditor, citizen, audit_log):
    person = citizen()
    _search(site, national_number=person.national_number)
    read = audit_log(action="audit.log.read")[-1]
    assert (read["actor"], read["role"], read["citizen_id"], read["purpose"]) == (
        auditor.username, "auditor", person.id, "audit")


def test_a_records_page_shows_its_hashes_and_is_recorded_too(site, auditor, citizen,
                                                             staff_token, audit_log):
    person = citizen()
    _staff_reads(site, staff_token("clerk"), person, "for the record page")
    seq = audit_log(citizen_id=person.id)[-1]["seq"]
    page = site.get(f"/audit/records/{seq}?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f'data-record="{seq}"' in html
    assert person.national_number in html and audit_log(seq=seq)[0]["hash"].hex() in html
    viewed = audit_log(action="audit.log.read")[-1]
    assert (viewed["subject_id"], viewed["citizen_id"]) == (str(seq), person.id)


def test_a_record_that_does_not_exist_is_a_404_in_words(site, auditor):
    page = site.get("/audit/records/999999999?lang=en")
    assert page.status_code == 404 and 'data-problem="404"' in page.get_data(as_text=True)


# --- verify ------------------------------------------------------------------------

def test_verify_on_an_intact_log_says_so_with_its_counts(site, auditor, audit_log):
    page = site.post("/audit/verify?lang=en", headers=SAME_ORIGIN)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-verify="intact"' in html
    assert audit_log(action="audit.verify")[-1]["actor"] == auditor.username


def test_verify_needs_the_pages_csrf_token(site, auditor):
    refused = site.post("/audit/verify", headers={**SAME_ORIGIN, "X-CSRFToken": "forged"})
    assert refused.status_code == 400


@pytest.fixture
def tamperable_site(audit_store):
    """The screens on a hub whose commits are real, so a row can be changed afterwards."""
    admin.init_app(audit_store.app)
    audit_store.app.test_client_class = ScreenClient
    return audit_store.app.test_client()


def test_verify_names_the_sequence_number_of_a_tampered_record(audit_store, tamperable_site):
    auditor = make_staff(audit_store.app, "auditor")
    audit_store.fill(20)
    target = audit_store.records()[-8]["seq"]
    with audit_store.tamper() as owner:
        owner.execute(text("UPDATE audit_records SET purpose = 'curiosity' WHERE seq = :seq"),
                      {"seq": target})
    site = _sign_in(tamperable_site, auditor.token)
    html = site.post("/audit/verify?lang=en", headers=SAME_ORIGIN).get_data(as_text=True)
    assert 'data-verify="broken"' in html
    assert f'data-first-position="{target}"' in html
    assert f'<li data-reason="edited" data-position="{target}"' in html
    assert f"The first bad place is record {target}." in html


# --- export and checkpoints ----------------------------------------------------------

def _today() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Jakarta")).date().isoformat()


def _checkpoint(app: Flask) -> None:
    assert make_checkpoint(database(), app.config, force=True) is not None


def test_the_export_downloads_and_its_signature_verifies_with_the_public_key(
        site, auditor, citizen, staff_token):
    _staff_reads(site, staff_token("clerk"), citizen(), "before the export")
    _checkpoint(site.application)
    answer = site.get("/audit/export/download", query_string={
        "from": _today(), "to": _today(), "format": "jsonl"})
    assert answer.status_code == 200 and answer.mimetype == "application/x-ndjson"
    assert "attachment" in answer.headers["Content-Disposition"]
    lines = [json.loads(line) for line in answer.data.decode().splitlines()]
    checkpoint = lines[-1]
    assert checkpoint["kind"] == "checkpoint" and checkpoint["covered"], checkpoint
    assert any(line.get("purpose") == "before the export" for line in lines)
    key = load_public(site.get("/audit/public-key.pem").data)
    key.verify(base64.b64decode(checkpoint["signature"]), checkpoint["body"].encode())


def test_the_export_pages_own_instructions_verify_a_downloaded_export(site, auditor, tmp_path):
    _checkpoint(site.application)
    export = site.get("/audit/export/download", query_string={"from": _today(),
                                                              "to": _today()})
    (tmp_path / "mine.jsonl").write_bytes(export.data)
    (tmp_path / "audit-signing.pub.pem").write_bytes(site.get("/audit/public-key.pem").data)
    page = site.get("/audit/export?lang=en").get_data(as_text=True)
    commands = html.unescape(re.search(r'<pre class="commands"[^>]*>(.*?)</pre>', page,
                                       re.S).group(1))
    commands = re.sub(r"^EXPORT=.*$", "EXPORT=mine.jsonl", commands, count=1, flags=re.M)
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", commands], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Signature Verified Successfully" in done.stdout


def test_the_pdf_export_downloads(site, auditor):
    answer = site.get("/audit/export/download", query_string={
        "from": _today(), "to": _today(), "format": "pdf"})
    assert answer.status_code == 200 and answer.data.startswith(b"%PDF")


def test_exporting_is_recorded_in_the_audit_log(site, auditor, audit_log):
    site.get("/audit/export/download", query_string={"from": _today(), "to": _today()})
    assert audit_log(action="audit.export")[-1]["actor"] == auditor.username


def test_an_export_that_ends_before_it_starts_is_refused_in_words(site, auditor):
    page = site.get("/audit/export/download", query_string={
        "from": "2026-11-26", "to": "2026-11-01", "format": "jsonl", "lang": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'data-refused="audit_range_invalid"' in html


def test_checkpoints_are_listed_with_a_valid_signature_and_their_files(site, auditor):
    _checkpoint(site.application)
    html = site.get("/audit/checkpoints?lang=en").get_data(as_text=True)
    assert 'data-signature="valid"' in html and "data-key-id" in html
    text_link = re.search(r'href="(/audit/checkpoints/\d+\.txt)"', html).group(1)
    body = site.get(text_link).data
    signature = site.get(text_link.replace(".txt", ".sig")).data
    load_public(site.get("/audit/public-key.pem").data).verify(signature, body)
