"""The signed-cookie session costs nothing without a cookie and works as Flask's with one."""

from __future__ import annotations

from flask import Flask, session

from backend.app import CookieSessions


def test_no_cookie_opens_an_empty_session_and_a_signed_cookie_is_read(app: Flask):
    assert isinstance(app.session_interface, CookieSessions)
    with app.test_request_context("/"):
        assert dict(session) == {}
    cookie = app.session_interface.get_signing_serializer(app).dumps({"next": "/admin"})
    name = app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context("/", headers={"Cookie": f"{name}={cookie}"}):
        assert dict(session) == {"next": "/admin"}
    with app.test_request_context("/", headers={"Cookie": f"{name}=forged"}):
        assert dict(session) == {}
