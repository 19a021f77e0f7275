"""The staff sign-in page on the hub: passwords, one-time codes, cookies, the throttle,
sign-out, and the idle limit the hub keeps whatever the page's script does.

The test client's requests share the test's app context (and so Flask-Babel's choice of
language): a test that reads English text asks for it in its first request."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from flask import url_for

from admin.common.sessions import STAFF_COOKIE
from admin.common.staff import ROLE_HOME, SEEN_KEY
from admin.staff.views import PENDING_KEY
from backend.testing.identity import bearer
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import (
    enrol_totp,
    sign_in_on_screens,
    sign_in_through_the_page,
    staff_cookie,
    text_of,
    wrong_code,
)

PASSWORD = "nasi-uduk-di-pagi-hari"


@pytest.fixture
def clerk(staff_account):
    return staff_account("clerk", password=PASSWORD)


def _expected_home(app, role):
    with app.test_request_context():
        endpoint = ROLE_HOME[role]
        known = endpoint in app.view_functions
        return url_for(endpoint if known else "staff.account")


def test_a_wrong_password_shows_the_error_summary(site, clerk):
    answer = sign_in_through_the_page(site, clerk.username, "not-the-password", lang="en")
    text = text_of(answer)
    assert answer.status_code == 400
    assert 'class="error-summary"' in text and "There is a problem" in text
    assert re.search(r"<title>Error:", text)
    assert staff_cookie(answer) is None


@pytest.mark.parametrize("role", ["clerk", "admin", "auditor"])
def test_each_role_lands_on_its_own_screen(app, site, staff_account, role):
    person = staff_account(role, password=PASSWORD)
    answer = sign_in_through_the_page(site, person.username, PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["Location"] == _expected_home(app, role)


def test_the_staff_cookie_is_httponly_and_strict(site, clerk):
    cookie = staff_cookie(sign_in_through_the_page(site, clerk.username, PASSWORD))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Expires" not in cookie, "gone when the browser closes"


def test_over_https_the_staff_cookie_is_secure(app, site, clerk):
    answer = site.post("/staff/sign-in", base_url="https://localhost", headers=SAME_ORIGIN,
                       data={"username": clerk.username, "password": PASSWORD})
    assert answer.status_code == 303
    assert "Secure" in staff_cookie(answer)


def test_the_signed_session_cookie_is_httponly_lax_and_secure_on_an_https_hub(app, site):
    assert app.config["ORIGIN"].startswith("https://")
    answer = site.get("/staff/sign-in")
    cookie = next(c for c in answer.headers.getlist("Set-Cookie")
                  if c.startswith(app.config["SESSION_COOKIE_NAME"] + "="))
    assert "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=Lax" in cookie, "the provider's redirect back must bring the SSO state"


def test_the_page_sent_from_is_where_the_sign_in_goes(site, clerk):
    answer = sign_in_through_the_page(site, clerk.username, PASSWORD, next="/staff/account")
    assert answer.headers["Location"] == "/staff/account"


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/",
                                       "/\\evil.example/", "javascript:alert(1)",
                                       "evil.example"])
def test_next_never_leads_off_this_hub(app, site, clerk, elsewhere):
    answer = sign_in_through_the_page(site, clerk.username, PASSWORD, next=elsewhere)
    assert answer.headers["Location"] == _expected_home(app, "clerk")


def test_signing_out_ends_the_token_at_the_hub(site, client, clerk):
    signed = sign_in_through_the_page(site, clerk.username, PASSWORD)
    token = re.match(rf"{STAFF_COOKIE}=([^;]+)", staff_cookie(signed)).group(1)
    assert client.get("/api/v1/auth/whoami", headers=bearer(token)).status_code == 200
    out = site.post("/staff/sign-out", headers=SAME_ORIGIN)
    assert out.status_code == 303 and "problem=signed_out" in out.headers["Location"]
    assert client.get("/api/v1/auth/whoami", headers=bearer(token)).status_code == 401
    assert site.get("/staff/account").status_code == 303


def test_an_agent_is_refused_here(site, staff_account):
    agent = staff_account("agent", password=PASSWORD)
    answer = sign_in_through_the_page(site, agent.username, PASSWORD, lang="en")
    assert answer.status_code == 400
    assert "This account cannot use this screen" in text_of(answer)
    assert staff_cookie(answer) is None


def test_repeated_failures_lock_the_sign_in(site, clerk):
    for _ in range(5):
        assert sign_in_through_the_page(site, clerk.username, "wrong-password-again",
                                        lang="en").status_code == 400
    answer = sign_in_through_the_page(site, clerk.username, PASSWORD, lang="en")
    assert answer.status_code == 400
    assert "Too many tries" in text_of(answer)
    assert staff_cookie(answer) is None


def test_a_sign_in_without_the_pages_csrf_token_is_refused(site, clerk):
    answer = site.post("/staff/sign-in?lang=en", data={"username": clerk.username,
                                                       "password": PASSWORD})
    assert answer.status_code == 400
    assert "This page has expired" in text_of(answer)
    assert staff_cookie(answer) is None


def test_a_cross_site_sign_out_is_refused(app, site):
    sign_in_on_screens(site, app, "clerk")
    answer = site.post("/staff/sign-out", headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403
    assert site.get("/staff/account").status_code == 200


def test_sign_in_pages_carry_the_security_headers(site):
    answer = site.get("/staff/sign-in")
    assert answer.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'self'" in answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


# --- the idle limit at the hub -----------------------------------------------------

def test_fifteen_idle_minutes_send_the_next_page_to_the_sign_in(app, site):
    sign_in_on_screens(site, app, "clerk")
    with site.session_transaction() as stored:
        stored[SEEN_KEY] = int(time.time()) - app.config["STAFF_IDLE_SIGNOUT"] - 1
    answer = site.get("/staff/account")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/staff/sign-in?")
    assert "problem=timed_out" in answer.headers["Location"]
    assert staff_cookie(answer) is not None and "Expires=Thu, 01 Jan 1970" in \
        staff_cookie(answer), "the browser forgets the staff cookie"


def test_the_sign_in_page_says_why_after_a_time_out(site):
    text = text_of(site.get("/staff/sign-in?problem=timed_out&lang=en"))
    assert "You were signed out because you did nothing for 15 minutes" in text


def test_a_request_within_the_limit_moves_the_clock_on(app, site):
    sign_in_on_screens(site, app, "clerk")
    with site.session_transaction() as stored:
        stored[SEEN_KEY] = int(time.time()) - app.config["STAFF_IDLE_WARNING"] - 30
    answer = site.get("/staff/still-here")
    assert answer.status_code == 204
    with site.session_transaction() as stored:
        assert time.time() - stored[SEEN_KEY] < 60


def test_still_here_after_the_limit_is_too_late(app, site):
    sign_in_on_screens(site, app, "auditor")
    with site.session_transaction() as stored:
        stored[SEEN_KEY] = int(time.time()) - app.config["STAFF_IDLE_SIGNOUT"] - 1
    answer = site.get("/staff/still-here")
    assert answer.status_code == 303 and "problem=timed_out" in answer.headers["Location"]


def test_after_a_time_out_the_sign_in_leads_back_to_the_page_left(app, site):
    sign_in_on_screens(site, app, "clerk")
    with site.session_transaction() as stored:
        stored[SEEN_KEY] = int(time.time()) - app.config["STAFF_IDLE_SIGNOUT"] - 1
    answer = site.get("/staff/still-here", headers={
        "HX-Request": "true", "HX-Current-URL": "http://localhost/staff/account?tab=2"})
    assert answer.status_code == 204
    assert "next=/staff/account?tab%3D2" in answer.headers["HX-Redirect"]


def test_a_staff_cookie_without_the_browsers_idle_clock_opens_nothing(app, site, client):
    clerk = sign_in_on_screens(site, app, "clerk")
    stranger = app.test_client()
    stranger.set_cookie(STAFF_COOKIE, clerk.token)
    answer = stranger.get("/staff/account")
    assert answer.status_code == 303 and answer.headers["Location"].startswith(
        "/staff/sign-in")


def test_a_staff_page_carries_the_idle_timer_and_its_dialog(app, site):
    sign_in_on_screens(site, app, "clerk")
    text = text_of(site.get("/staff/account?lang=en"))
    assert 'data-staff-idle-warning="780"' in text and 'data-staff-idle-signout="900"' in text
    assert 'data-staff-signout="/staff/sign-out"' in text
    assert "common/staff.js" in text
    assert 'role="alertdialog"' in text and "Stay signed in" in text


def test_the_sign_in_page_has_no_idle_timer_to_run(site):
    assert "data-staff-signout" not in text_of(site.get("/staff/sign-in"))


# --- one-time codes ------------------------------------------------------------------

@pytest.fixture
def clerk_with_totp(app, clerk):
    return clerk, enrol_totp(app, clerk.username)


def test_a_right_password_with_totp_asks_for_the_code_and_signs_in_no_one_yet(
        site, clerk_with_totp):
    clerk, _ = clerk_with_totp
    answer = sign_in_through_the_page(site, clerk.username, PASSWORD)
    assert answer.status_code == 303 and answer.headers["Location"] == "/staff/sign-in/code"
    assert staff_cookie(answer) is None
    page = text_of(site.get("/staff/sign-in/code?lang=en"))
    assert len(re.findall(r"<input(?![^>]*type=\"hidden\")", page)) == 1, "one question"
    assert 'autocomplete="one-time-code"' in page


def test_the_right_code_signs_the_clerk_in(app, site, clerk_with_totp):
    clerk, secret = clerk_with_totp
    sign_in_through_the_page(site, clerk.username, PASSWORD, next="/staff/account")
    answer = site.post("/staff/sign-in/code", data={"code": pyotp.TOTP(secret).now()},
                       headers=SAME_ORIGIN, environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/staff/account"
    assert "HttpOnly" in staff_cookie(answer)
    assert site.get("/staff/account").status_code == 200


def test_a_wrong_code_shows_the_error_summary(site, clerk_with_totp):
    clerk, secret = clerk_with_totp
    sign_in_through_the_page(site, clerk.username, PASSWORD, lang="en")
    answer = site.post("/staff/sign-in/code?lang=en", data={"code": wrong_code(secret)},
                       headers=SAME_ORIGIN, environ_base={"REMOTE_ADDR": "192.0.2.44"})
    text = text_of(answer)
    assert answer.status_code == 400
    assert re.search(r"<title>Error:", text) and 'href="#code"' in text
    assert "That code is not right" in text
    assert staff_cookie(answer) is None


def test_a_used_code_does_not_sign_in_again(site, clerk_with_totp):
    clerk, secret = clerk_with_totp
    code = pyotp.TOTP(secret).now()
    for expected in (303, 400):
        sign_in_through_the_page(site, clerk.username, PASSWORD)
        answer = site.post("/staff/sign-in/code", data={"code": code}, headers=SAME_ORIGIN,
                           environ_base={"REMOTE_ADDR": "192.0.2.44"})
        assert answer.status_code == expected


def test_the_code_page_without_a_right_password_goes_back_to_the_sign_in(site):
    answer = site.get("/staff/sign-in/code")
    assert answer.status_code == 303 and "problem=code_expired" in answer.headers["Location"]


def test_the_password_steps_success_lasts_a_few_minutes_only(site, clerk_with_totp):
    clerk, secret = clerk_with_totp
    sign_in_through_the_page(site, clerk.username, PASSWORD)
    with site.session_transaction() as stored:
        stored[PENDING_KEY] = {**stored[PENDING_KEY], "until": int(time.time()) - 1}
    answer = site.post("/staff/sign-in/code", data={"code": pyotp.TOTP(secret).now()},
                       headers=SAME_ORIGIN, environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert answer.status_code == 303 and "problem=code_expired" in answer.headers["Location"]
    assert staff_cookie(answer) is None


def test_wrong_codes_count_in_the_throttle(site, clerk_with_totp):
    clerk, secret = clerk_with_totp
    sign_in_through_the_page(site, clerk.username, PASSWORD, lang="en")
    for _ in range(4):  # the password's try and four codes: five tries
        site.post("/staff/sign-in/code", data={"code": wrong_code(secret)},
                  headers=SAME_ORIGIN, environ_base={"REMOTE_ADDR": "192.0.2.44"})
    answer = site.post("/staff/sign-in/code?lang=en", data={"code": pyotp.TOTP(secret).now()},
                       headers=SAME_ORIGIN, environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert answer.status_code == 400 and "Too many tries" in text_of(answer)
