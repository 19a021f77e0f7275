"""Fixtures for staff and terminal identities, made through the real code paths.

    def test_something(client, staff_token, terminal):
        admin = staff_token("admin")                    # bearer string
        kiosk = terminal("kiosk")                       # TerminalCredentials
        client.get(..., headers=bearer(admin))
        terminal_id, client_id, client_secret, token = kiosk   # or kiosk.token

Accounts are created in the test's database (rolled back after the test); staff
tokens are signed by the hub's own token code, terminal tokens come from the real
`POST /api/v1/oauth/token` endpoint.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from typing import NamedTuple

import pytest
from flask import Flask

from backend.db import database
from backend.identity import accounts, state, tokens

_counter = itertools.count(1)


class TerminalCredentials(NamedTuple):
    terminal_id: str
    client_id: str
    client_secret: str
    token: str


class StaffCredentials(NamedTuple):
    username: str
    password: str | None
    token: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    raw = f"{client_id}:{client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def make_staff(app: Flask, role: str = "admin", *, username: str | None = None,
               password: str | None = None, email: str | None = None) -> StaffCredentials:
    """A staff account and a token for it (a password only if you pass one)."""
    username = username or f"{role}{next(_counter)}"
    with app.app_context(), database().transaction() as tx:
        account = accounts.create_staff(tx, username=username, role=role, email=email,
                                        password=password)
        issued = tokens.issue(state().key, kind="staff", subject=account.username,
                              account_id=str(account.id), role=role,
                              generation=account.token_generation, ttl=state().ttl)
    return StaffCredentials(account.username, password, issued.token)


def make_terminal(app: Flask, kind: str = "kiosk", *, name: str | None = None,
                  address: str = "127.0.0.1", category: str | None = None
                  ) -> TerminalCredentials:
    """A registered terminal (an agent with its shop's `category`, if given) and a token
    from the token endpoint."""
    with app.app_context(), database().transaction() as tx:
        row, secret = accounts.create_terminal(tx, kind=kind,
                                               name=name or f"{kind} {next(_counter)}",
                                               category=category)
        terminal_id, client_id = row.id, row.client_id
    answer = app.test_client().post(
        "/api/v1/oauth/token", data={"grant_type": "client_credentials", "scope": kind},
        headers=basic(client_id, secret), environ_base={"REMOTE_ADDR": address})
    if answer.status_code != 200:
        raise AssertionError(f"terminal token refused: {answer.status_code} {answer.json}")
    token = answer.json
    assert token is not None  # a 200 from the token endpoint is JSON
    return TerminalCredentials(terminal_id, client_id, secret, token["access_token"])


@pytest.fixture
def staff_token(app: Flask) -> Callable[..., str]:
    """`staff_token("clerk")` -> a bearer token for a fresh clerk account."""

    def make(role: str = "admin", **kwargs: object) -> str:
        return make_staff(app, role, **kwargs).token  # type: ignore[arg-type]

    return make


@pytest.fixture
def staff_account(app: Flask) -> Callable[..., StaffCredentials]:
    """`staff_account("clerk", password=...)` -> username, password and token."""

    def make(role: str = "admin", **kwargs: object) -> StaffCredentials:
        return make_staff(app, role, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def terminal(app: Flask) -> Callable[..., TerminalCredentials]:
    """`terminal("kiosk")` -> (terminal_id, client_id, client_secret, token)."""

    def make(kind: str = "kiosk", **kwargs: object) -> TerminalCredentials:
        return make_terminal(app, kind, **kwargs)  # type: ignore[arg-type]

    return make
