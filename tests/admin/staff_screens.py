"""Signing a staff member in on the screens' test client, for any staff screen's tests.

    from tests.admin.staff_screens import sign_in_on_screens

    def test_the_counter_shows_the_queue(app, site):
        clerk = sign_in_on_screens(site, app, "clerk")    # StaffCredentials
        page = site.get("/counter/")

It leaves the browser as the sign-in page does: the staff cookie holding a staff token,
and the session's idle clock started (without that clock, `require_staff` sends the
page to the sign-in). It skips the password (no argon2 per test); the sign-in page
itself is tested in `tests/admin/test_staff_sign_in.py`. `sign_in_through_the_page`
goes the whole way, for tests that need that.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from admin.common.sessions import STAFF_COOKIE
from admin.common.staff import SEEN_KEY
from backend.db import database
from backend.identity import accounts, totp
from backend.testing.identity import StaffCredentials, make_staff
from tests.admin.conftest import SAME_ORIGIN


def sign_in_on_screens(site: FlaskClient, app: Flask, role: str = "clerk",
                       **account: Any) -> StaffCredentials:
    """A fresh staff account of `role`, signed in on `site` (keyword arguments go to
    `backend.testing.identity.make_staff`: username, password, email)."""
    staff = make_staff(app, role, **account)
    site.set_cookie(STAFF_COOKIE, staff.token)
    with site.session_transaction() as stored:
        stored[SEEN_KEY] = int(time.time())
    return staff


def sign_in_through_the_page(site: FlaskClient, username: str, password: str,
                             address: str = "192.0.2.44", lang: str | None = None,
                             **form: str) -> Any:
    """POST the sign-in form as the page would (same origin, its CSRF token); `lang`
    chooses the answer's language, other keywords are more form fields (`next`)."""
    return site.post("/staff/sign-in", query_string={"lang": lang} if lang else None,
                     data={"username": username, "password": password, **form},
                     headers=SAME_ORIGIN, environ_base={"REMOTE_ADDR": address})


def enrol_totp(app: Flask, username: str) -> str:
    """Turn on one-time codes for `username`; returns the secret an authenticator holds."""
    with app.app_context(), database().transaction() as tx:
        return totp.enable(tx, accounts.get_staff(tx, username)).secret


def wrong_code(secret: str) -> str:
    """A six-digit code that is not good for `secret` at any step the hub would accept."""
    good = {totp.code_at(secret, totp.current_step() + d) for d in (-2, -1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555")
                if c not in good)


def text_of(answer: Any) -> str:
    return answer.get_data(as_text=True)


def staff_cookie(answer: Any) -> str | None:
    """The Set-Cookie line for the staff cookie, if the answer sets it."""
    return next((c for c in answer.headers.getlist("Set-Cookie")
                 if c.startswith(STAFF_COOKIE + "=")), None)
