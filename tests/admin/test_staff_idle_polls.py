"""A page's background polls are not activity: an open job page does not keep its admin
signed in. Polls (htmx, marked X-Satukartu-Poll) are checked against the idle clock but
never move it on; a request the person makes does."""

from __future__ import annotations

import time

import pytest

from admin.common.sessions import STAFF_COOKIE
from admin.common.staff import POLL_HEADER, SEEN_KEY
from tests.admin.test_console_approvals import cards, queue  # noqa: F401
from tests.admin.test_console_issuance import _started, desk_terminal  # noqa: F401
from tests.admin.test_console_jobs import admin, queued  # noqa: F401

POLL = {POLL_HEADER: "1", "HX-Request": "true"}
MARKED = """hx-headers='{"X-Satukartu-Poll": "1"}'"""


def _seen_ago(site, seconds: int) -> int:
    at = int(time.time()) - seconds
    with site.session_transaction() as stored:
        stored[SEEN_KEY] = at
    return at


def _seen(site):
    with site.session_transaction() as stored:
        return stored.get(SEEN_KEY)


@pytest.fixture
def polled(queued):  # noqa: F811
    """The progress address a queued job's page polls."""
    return f"/console/jobs/{queued}/progress?shown=queued"


def test_a_poll_does_not_move_the_idle_clock_on(site, polled):
    before = _seen_ago(site, 600)
    answer = site.get(polled, headers=POLL)
    assert answer.status_code == 200 and "data-progress" in answer.get_data(as_text=True)
    assert _seen(site) == before


def test_a_poll_after_the_idle_limit_sends_the_page_to_the_sign_in(app, site, polled):
    _seen_ago(site, app.config["STAFF_IDLE_SIGNOUT"] + 1)
    answer = site.get(polled, headers={
        **POLL, "HX-Current-URL": f"http://localhost{polled.split('/progress')[0]}"})
    assert answer.status_code == 204
    assert answer.headers["HX-Redirect"].startswith("/staff/sign-in?")
    assert "problem=timed_out" in answer.headers["HX-Redirect"]
    assert any(cookie.startswith(STAFF_COOKIE + "=") and "Expires=Thu, 01 Jan 1970" in cookie
               for cookie in answer.headers.getlist("Set-Cookie"))


def test_polls_within_the_limit_still_end_at_the_limit(app, site, polled):
    _seen_ago(site, app.config["STAFF_IDLE_SIGNOUT"] - 5)
    assert site.get(polled, headers=POLL).status_code == 200
    _seen_ago(site, app.config["STAFF_IDLE_SIGNOUT"] + 1)  # as if the 5 s had passed
    assert "HX-Redirect" in site.get(polled, headers=POLL).headers


def test_a_page_the_admin_opens_moves_the_idle_clock_on(site, queued):  # noqa: F811
    before = _seen_ago(site, 600)
    assert site.get(f"/console/jobs/{queued}").status_code == 200
    assert _seen(site) > before and time.time() - _seen(site) < 60


def test_a_job_page_marks_its_polls(site, queued):  # noqa: F811
    page = site.get(f"/console/jobs/{queued}").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in page and MARKED in page


def test_an_issuance_page_marks_its_polls(site, admin, citizen, desk_terminal):  # noqa: F811
    job_id = _started(site, citizen(), desk_terminal.terminal_id)
    page = site.get(f"/console/issuance/{job_id}").get_data(as_text=True)
    assert "hx-trigger=" in page and MARKED in page
