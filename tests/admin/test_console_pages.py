"""The admin console on the hub: admins only, reads with a purpose, changes with their
reasons and confirmations, secrets shown once, one change per submit."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from backend.db import session
from backend.registry.models import Citizen
from backend.testing.identity import basic
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import sign_in_on_screens, sign_in_through_the_page

READ = "citizen.data.read"


def _form_key(page: str) -> str:
    return re.search(r'name="once" value="([^"]+)"', page).group(1)


@pytest.fixture
def signed_in(site, app):
    """`signed_in("admin")`: a fresh staff member signed in on the test's browser."""

    def sign_in(role: str = "admin") -> None:
        sign_in_on_screens(site, app, role)

    return sign_in


@pytest.fixture
def admin(signed_in):
    signed_in("admin")


def _open_record(site, person, purpose="request"):
    site.post(f"/console/citizens/{person.id}/purpose",
              data={"purpose": purpose, "next": f"/console/citizens/{person.id}"},
              headers=SAME_ORIGIN)
    return site.get(f"/console/citizens/{person.id}?lang=en")


@pytest.mark.parametrize("role", ["clerk", "auditor"])
def test_the_console_is_for_admins_only(site, signed_in, role):
    signed_in(role)
    for path in ("/console/", "/console/citizens", "/console/terminals", "/console/staff",
                 "/console/reports"):
        assert site.get(path).status_code == 403, path


def test_search_by_number_and_name_finds_the_person_without_recording_a_read(
        site, admin, citizen, audit_log):
    person = citizen(full_name="Wulan Kusumawati")
    by_number = site.get("/console/citizens", query_string={"q": person.national_number})
    by_name = site.get("/console/citizens", query_string={"q": "kusuma"})
    for answer in (by_number, by_name):
        assert answer.status_code == 200
        assert f'data-citizen="{person.id}"' in answer.get_data(as_text=True)
    assert audit_log(citizen_id=person.id, action=READ) == []


def test_opening_a_record_records_a_read_with_the_purpose_chosen(site, admin, citizen,
                                                                 audit_log):
    person = citizen(full_name="Ratna Sari")
    unasked = site.get(f"/console/citizens/{person.id}")
    assert unasked.status_code == 303 and "/purpose" in unasked.headers["Location"]
    record = _open_record(site, person, "eligibility")
    assert record.status_code == 200 and "Ratna Sari" in record.get_data(as_text=True)
    reads = audit_log(citizen_id=person.id, action=READ)
    assert [r["purpose"] for r in reads] == ["checking programme eligibility"]
    assert reads[0]["actor_kind"] == "staff" and reads[0]["role"] == "admin"


def test_an_edit_without_a_reason_shows_the_error_summary_and_changes_nothing(
        site, admin, citizen, audit_log):
    person = citizen(full_name="Dewi Lestari")
    _open_record(site, person)
    form = site.get(f"/console/citizens/{person.id}/edit").get_data(as_text=True)
    answer = site.post(f"/console/citizens/{person.id}/edit?lang=en", data={
        "full_name": "Dewi Lestari Putri", "national_number": person.national_number,
        "birth_date": person.birth_date.isoformat(), "sex": person.sex,
        "address": person.address, "region_code": person.region_code, "language": "id",
        "reason": "", "once": _form_key(form)}, headers=SAME_ORIGIN)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'class="error-summary" role="alert"' in page and "There is a problem" in page
    assert '<a href="#reason">' in page and re.search(r"<title>Error:", page)
    session().expire_all()
    assert session().get(Citizen, person.id).full_name == "Dewi Lestari"
    assert audit_log(citizen_id=person.id, action="registry.citizen.update") == []


def test_a_revocation_is_confirmed_first_and_records_its_rfc5280_reason(
        site, admin, soft_card, citizen, audit_log):
    person = citizen()
    card = soft_card(person)
    _open_record(site, person, "card")
    path = f"/console/cards/{card.serial}/revoke"
    check = site.post(path + "?lang=en", data={"reason": "keyCompromise", "step": "check"},
                      headers=SAME_ORIGIN)
    page = check.get_data(as_text=True)
    assert check.status_code == 200 and "What will happen" in page
    assert audit_log(action="card.revoke") == []
    done = site.post(path, data={"reason": "keyCompromise", "step": "do",
                                 "once": _form_key(page)}, headers=SAME_ORIGIN)
    assert done.status_code == 303
    revoked = audit_log(action="card.revoke", subject_id=card.serial)
    assert len(revoked) == 1 and '"reason":"keyCompromise"' in revoked[0]["details"]
    assert revoked[0]["actor_kind"] == "staff"


def test_a_submit_sent_twice_changes_the_card_once(site, admin, soft_card, citizen,
                                                  audit_log):
    person = citizen()
    card = soft_card(person)
    _open_record(site, person, "card")
    path = f"/console/cards/{card.serial}/suspend"
    key = _form_key(site.get(path).get_data(as_text=True))
    first = site.post(path, data={"note": "", "once": key}, headers=SAME_ORIGIN)
    again = site.post(path, data={"note": "", "once": key}, headers=SAME_ORIGIN)
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert len(audit_log(action="card.suspend", subject_id=card.serial)) == 1


def test_a_rotated_terminal_secret_is_shown_once_and_the_old_one_stops_working(
        site, admin, terminal, client):
    kiosk = terminal("kiosk")
    path = f"/console/terminals/{kiosk.terminal_id}/secret"
    key = _form_key(site.get(path + "?lang=en").get_data(as_text=True))
    shown = site.post(path + "?lang=en", data={"once": key}, headers=SAME_ORIGIN)
    page = shown.get_data(as_text=True)
    secret = re.search(r"data-client-secret>([^<]+)<", page).group(1)
    assert "will not be shown again" in page and shown.headers["Cache-Control"] == "no-store"
    again = site.post(path, data={"once": key}, headers=SAME_ORIGIN)
    assert again.status_code == 303 and secret not in site.get(
        again.headers["Location"]).get_data(as_text=True)

    def token(with_secret: str) -> int:
        return client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(kiosk.client_id, with_secret)).status_code

    assert token(kiosk.client_secret) == 401
    assert token(secret) == 200


def test_a_new_staff_account_can_sign_in(site, admin, app):
    form = site.get("/console/staff/new").get_data(as_text=True)
    made = site.post("/console/staff/new", data={
        "role": "clerk", "username": "siti.rahayu", "display_name": "Siti Rahayu",
        "email": "siti@kota.example", "way": "generate", "once": _form_key(form)},
        headers=SAME_ORIGIN)
    password = re.search(r"data-password>([^<]+)<", made.get_data(as_text=True)).group(1)
    signed = sign_in_through_the_page(app.test_client(), "siti.rahayu", password)
    assert signed.status_code == 303 and "sk_staff=" in signed.headers["Set-Cookie"]
    assert "sign-in" not in signed.headers["Location"]


def test_the_monthly_report_downloads_as_a_pdf(site, admin, app):
    month = datetime.now(ZoneInfo(app.config["CITY_TIMEZONE"])).strftime("%Y-%m")
    figures = site.get("/console/reports", query_string={"month": month})
    assert figures.status_code == 200 and "data-report-pdf" in figures.get_data(as_text=True)
    pdf = site.get("/console/reports/monthly.pdf", query_string={"month": month})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
