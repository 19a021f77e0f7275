"""Screens on the hub's test client: a site with the screens registered, and a visitor
whose card session is handed over the way the page's script does it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

import admin

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
SAFE = {"GET", "HEAD", "OPTIONS"}


class ScreenClient(FlaskClient):
    """A browser on the hub's own pages: a write sent as same-origin carries the CSRF
    token the page would have given it (the one Flask-WTF keeps in the session)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        method = str(kwargs.get("method", "GET")).upper()
        headers = dict(kwargs.get("headers") or {})
        if method not in SAFE and headers.get("Sec-Fetch-Site") == "same-origin" \
                and "X-CSRFToken" not in headers:
            headers["X-CSRFToken"] = self.csrf_token()
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        with self.session_transaction() as stored:
            raw = stored.setdefault("csrf_token", uuid.uuid4().hex)
        signer = URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token")
        return str(signer.dumps(raw))


@pytest.fixture
def site(app: Flask) -> FlaskClient:
    admin.init_app(app)
    app.test_client_class = ScreenClient
    return app.test_client()


@pytest.fixture
def visit(site: FlaskClient, card_session: Callable[..., str]) -> Callable[..., str]:
    """`visit(citizen, "tap", screen="kiosk")`: hand the card session to the screen."""

    def start(holder: Any, assurance: str = "tap", screen: str = "kiosk") -> str:
        token = card_session(holder, assurance=assurance, terminal_kind=screen)
        answer = site.post(f"/{screen}/session", data={"token": token}, headers=SAME_ORIGIN)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return token

    return start
