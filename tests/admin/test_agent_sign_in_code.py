"""The agent's sign-in at the shop screen for an account with TOTP: the password, then
the one-time code on a second page (the staff sign-in's steps, `signin.first_factor` and
`signin.second_factor`, and its half sign-in kept in the session).

The test client's requests share the test's app context (and so Flask-Babel's choice of
language): a test that reads English text asks for it in its first request."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from admin.common.pending_sign_in import PENDING_KEY
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import (
    enrol_totp,
    sign_in_through_the_page,
    staff_cookie,
    text_of,
    wrong_code,
)

PASSWORD = "a long enough agent password"
CODE_PAGE = "/agent/sign-in/code"


def _password(site, username, password=PASSWORD, lang=None):
    return site.post("/agent/sign-in", query_string={"lang": lang} if lang else None,
                     data={"username": username, "password": password}, headers=SAME_ORIGIN)


def _code(site, code, lang=None):
    return site.post(CODE_PAGE, query_string={"lang": lang} if lang else None,
                     data={"code": code}, headers=SAME_ORIGIN)


def _signed_in(site):
    """The shop screen opens its pages only to a signed-in agent."""
    return site.get("/agent/pin").status_code == 200


@pytest.fixture
def agent_with_totp(app, staff_account):
    agent = staff_account("agent", password=PASSWORD)
    return agent, enrol_totp(app, agent.username)


def test_a_right_password_asks_for_the_code_and_signs_in_no_one_yet(site, agent_with_totp):
    agent, _ = agent_with_totp
    answer = _password(site, agent.username)
    assert answer.status_code == 303 and answer.headers["Location"] == CODE_PAGE
    assert staff_cookie(answer) is None
    page = text_of(site.get(CODE_PAGE + "?lang=en"))
    assert len(re.findall(r"<input(?![^>]*type=\"hidden\")", page)) == 1, "one question"
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert "Enter the code from your authenticator app" in page
    assert re.search(r'<a class="button secondary" id="start-again" href="/agent/"', page)
    assert not _signed_in(site)


def test_the_password_then_the_code_signs_the_agent_in_for_the_shift(app, site,
                                                                     agent_with_totp):
    agent, secret = agent_with_totp
    _password(site, agent.username)
    answer = _code(site, pyotp.TOTP(secret).now())
    assert answer.status_code == 303 and answer.headers["Location"] == "/agent/"
    cookie = staff_cookie(answer)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    shift = app.config["AGENT_SHIFT_HOURS"] * 3600
    assert int(re.search(r"Max-Age=(\d+)", cookie).group(1)) in (shift - 1, shift)
    assert _signed_in(site)
    idle = text_of(site.get("/agent/"))
    assert 'data-waiting="true"' in idle and 'id="password"' not in idle, "the idle page"
    with site.session_transaction() as stored:
        assert PENDING_KEY not in stored, "the half sign-in is used up"


def test_a_wrong_code_is_refused_and_signs_in_no_one(site, agent_with_totp):
    agent, secret = agent_with_totp
    _password(site, agent.username, lang="en")
    answer = _code(site, wrong_code(secret), lang="en")
    text = text_of(answer)
    assert answer.status_code == 400
    assert re.search(r"<title>Error:", text) and 'href="#code"' in text
    assert 'class="error-summary" role="alert" tabindex="-1" data-autofocus' in text
    assert "That code is not right" in text and 'aria-invalid="true"' in text
    assert staff_cookie(answer) is None
    assert not _signed_in(site)
    # The half sign-in stays for another try, within its few minutes.
    assert _code(site, pyotp.TOTP(secret).now()).status_code == 303
    assert _signed_in(site)


def test_an_empty_code_is_asked_for_again(site, agent_with_totp):
    agent, _ = agent_with_totp
    _password(site, agent.username, lang="en")
    answer = _code(site, "  ", lang="en")
    assert answer.status_code == 400 and "Enter the 6-digit code" in text_of(answer)
    assert staff_cookie(answer) is None


def test_a_replayed_code_does_not_sign_in_again(site, agent_with_totp):
    agent, secret = agent_with_totp
    code = pyotp.TOTP(secret).now()
    _password(site, agent.username)
    assert _code(site, code).status_code == 303
    assert site.post("/agent/sign-out", headers=SAME_ORIGIN).status_code == 303
    assert not _signed_in(site)
    _password(site, agent.username)
    answer = _code(site, code)
    assert answer.status_code == 400 and staff_cookie(answer) is None
    assert not _signed_in(site)


def test_a_non_agent_with_totp_is_refused_at_the_agent_screen(app, site, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    secret = enrol_totp(app, clerk.username)
    answer = _password(site, clerk.username)
    assert answer.status_code == 400 and staff_cookie(answer) is None
    with site.session_transaction() as stored:
        assert PENDING_KEY not in stored
    refused = _code(site, pyotp.TOTP(secret).now())
    assert refused.status_code == 303
    assert refused.headers["Location"] == "/agent/?problem=code_expired"
    assert staff_cookie(refused) is None


def test_the_staff_sign_ins_half_is_not_finished_at_the_agent_screen(app, site,
                                                                      staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    secret = enrol_totp(app, clerk.username)
    sign_in_through_the_page(site, clerk.username, PASSWORD, address="127.0.0.1")
    with site.session_transaction() as stored:
        assert PENDING_KEY in stored
    answer = _code(site, pyotp.TOTP(secret).now())
    assert answer.status_code == 303 and "problem=code_expired" in answer.headers["Location"]
    assert staff_cookie(answer) is None


def test_an_agent_without_totp_still_signs_in_in_one_step(site, staff_account):
    agent = staff_account("agent", password=PASSWORD)
    answer = _password(site, agent.username)
    assert answer.status_code == 303 and answer.headers["Location"] == "/agent/"
    assert staff_cookie(answer) is not None
    assert _signed_in(site)


def test_the_code_page_without_a_right_password_starts_again(site):
    answer = site.get(CODE_PAGE)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/agent/?problem=code_expired"


def test_an_expired_half_sign_in_starts_again_with_a_clear_message(site, agent_with_totp):
    agent, secret = agent_with_totp
    _password(site, agent.username, lang="en")
    with site.session_transaction() as stored:
        stored[PENDING_KEY] = {**stored[PENDING_KEY], "until": int(time.time()) - 1}
    answer = _code(site, pyotp.TOTP(secret).now())
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/agent/?problem=code_expired"
    assert staff_cookie(answer) is None
    page = text_of(site.get(answer.headers["Location"] + "&lang=en"))
    assert "The sign-in took too long" in page and "enter your password again" in page
    assert 'id="password"' in page, "the sign-in page, to start again"
    assert not _signed_in(site)
