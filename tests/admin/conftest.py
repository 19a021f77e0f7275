"""Screens on the hub's test client: a site with the screens registered, and a visitor
whose card session is handed over the way the page's script does it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import admin

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def site(app: Flask) -> FlaskClient:
    admin.init_app(app)
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
