"""An auditor changes nothing (SCREENS.md U3): every route that writes refuses them.

Swept from what is registered when the test runs: every API operation declared with
POST, PUT, PATCH or DELETE and every service action (`backend.api.routing.OPERATIONS`,
`backend.services.catalogue.modules()`), and every other route of the app's URL map with such a
method (the screens: kiosk, agent, staff, counter, console, audit, and whatever screen
comes next). A route added tomorrow is swept the day it is added.

- The API is called with an auditor's bearer token and a well-formed request on objects
  that exist (`requests_catalogue`), and must answer 403. (An operation the catalogue
  does not list yet gets a minimal request: who may call is checked before the body.)
- A screen route is called with an auditor's staff cookie and a valid CSRF token (the
  token the page would carry, so a refusal cannot come from the CSRF check) and must
  answer 403, or send the auditor away to a refusal (another screen's start or the
  sign-in page); either way no table may change.

The few writes an auditor may make are listed below, each with why it changes no data.
Anything else that lets an auditor through fails the sweep.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import inspect, text

import admin
from admin.common import screen_blueprint
from admin.common.sessions import STAFF_COOKIE
from admin.common.staff import SEEN_KEY
from backend.api.routing import OPERATIONS
from backend.db import database
from backend.services.catalogue import modules
from backend.tasks import celery_init_app
from backend.testing.identity import make_staff
from tests.admin.conftest import SAME_ORIGIN, ScreenClient
from tests.reliability.security.request_world import Call, Ctx, send
from tests.reliability.security.requests_catalogue import CATALOGUE, action_call

AUDITOR = "staff:auditor"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SERVICE_ACTION = "api_services.run_action"
AUDIT_LOG = frozenset({"audit_records", "audit_queue", "audit_checkpoints"})

# API operations an auditor may call although they are written as POSTs.
AUDITOR_MAY_CALL = {
    "api_audit.verify_now": "recomputes every hash and checks every checkpoint; it adds "
                            "only its own audit record",
    "api_audit.checkpoint_now": "signs the log's current head: evidence about the log, no "
                                "record changes",
    "api_identity.staff_logout": "ends the auditor's own token",
    "api_identity.staff_login": "public: the username and password in the body sign in, "
                                "not the caller's token",
    "api_identity.oauth_token": "public: a terminal's own client credentials decide, not "
                                "the caller's token",
    "api_documents.verify_file": "public: checks an uploaded PDF against the hub's "
                                 "signature and stores nothing",
}


@dataclass(frozen=True)
class Allowed:
    """A screen write that is not a refusal of the auditor, and what it may change."""

    status: int
    may_change: frozenset[str]
    why: str


# Screen routes that may answer an auditor with something other than a refusal (a
# refusal is always fine), and the tables they may change in doing so.
SCREEN_ALLOWED: dict[str, Allowed] = {
    # The auditor's own.
    "audit.verify_now": Allowed(200, AUDIT_LOG, "the auditor's verify: the API's own "
                                "function, adding only its audit record"),
    "audit.search_post": Allowed(303, frozenset(), "the auditor's search: posted only so "
                                 "the national number stays out of the URL; it reads and "
                                 "sends to the results"),
    "staff.sign_out": Allowed(303, frozenset({"staff_accounts"}) | AUDIT_LOG,
                              "the auditor signs themselves out: their own tokens end"),
    # Routes that act on what the request carries, never on the staff cookie: with none
    # of it they refuse, or have nothing to do.
    "staff.sign_in_post": Allowed(400, frozenset(), "a sign-in form: no username and "
                                  "password sent, so nobody signs in"),
    "agent.sign_in": Allowed(400, frozenset(), "the agent's shift sign-in form: no "
                             "credentials sent"),
    # The SPDCI peers' routes (backend/dci): a peer's bearer token and signature decide,
    # and a staff cookie is neither.
    "dci.token": Allowed(400, frozenset(), "a peer's token request: its own client "
                         "credentials decide, and none are sent"),
    **{f"dci.{view}": Allowed(401, frozenset(), "an SPDCI peer's endpoint: the auditor's "
                              "cookie is not a peer's bearer token")
       for view in ("search", "subscribe", "unsubscribe", "txn_status", "sync_search",
                    "sync_txn_status", "on_search", "on_subscribe", "on_unsubscribe",
                    "txn_on_status", "notify")},
    "kiosk.hand_over": Allowed(409, frozenset(), "takes a card session from the reader: "
                               "none sent"),
    "kiosk.end": Allowed(200, frozenset(), "ends the card holder's visit: there is no card "
                         "session, so it only says where the screen goes next"),
    "agent.end": Allowed(200, frozenset(), "ends the card holder's visit: there is no card "
                         "session, so it only says where the screen goes next"),
    "counter.end": Allowed(200, frozenset(), "ends the card holder's visit: there is no card "
                           "session, so it only says where the screen goes next"),
}


# --- the API -----------------------------------------------------------------------

@pytest.fixture
def ctx(app, client, world, soft_card) -> Ctx:
    app.config.update(BROKER_URL="memory://", RESULT_BACKEND="cache+memory://")
    celery_init_app(app)
    return Ctx(app, client, world, soft_card)


def api_writes() -> list[tuple[str, str, Any, str]]:
    """(label, method, request builder, endpoint) of every writing operation and action."""
    rows = [(f"{op.method.upper()} {op.path}", op.method, CATALOGUE.get(op.endpoint),
             op.endpoint)
            for op in OPERATIONS
            if op.method.upper() in WRITES and op.endpoint != SERVICE_ACTION]
    for key, module in sorted(modules().items()):
        for name in sorted(module.actions):
            rows.append((f"POST /api/v1/services/{key}/{name}", "post", action_call(key, name),
                         f"{SERVICE_ACTION}:{key}.{name}"))
    return rows


def minimal_call(label: str) -> Call:
    """For an operation the catalogue does not know yet (the matrix test asks for its
    entry): path arguments of 1 and an empty body. Who may call is checked before the
    body is read, so an auditor must still get 403."""
    return Call(re.sub(r"<(?:\w+:)?\w+>", "1", label.split(" ", 1)[1]), json={})


def test_the_api_exceptions_name_routes_that_exist(app):
    declared = {op.endpoint for op in OPERATIONS if op.method.upper() in WRITES}
    assert set(AUDITOR_MAY_CALL) <= declared


@pytest.mark.slow
def test_every_writing_api_route_refuses_an_auditor(ctx, callers):
    token = callers[AUDITOR]
    wrong = []
    for label, method, build, endpoint in api_writes():
        call = build(ctx, AUDITOR) if build is not None else minimal_call(label)
        answer = send(ctx, method, call, token)
        body = answer.get_json(silent=True) or {}
        reason = (body.get("error") or {}).get("reason") if isinstance(body, dict) else None
        if endpoint in AUDITOR_MAY_CALL:
            if not 200 <= answer.status_code < 300:
                wrong.append(f"{label}: listed as allowed ({AUDITOR_MAY_CALL[endpoint]}), "
                             f"answered {answer.status_code} {reason}")
        elif answer.status_code != 403:
            wrong.append(f"{label}: an auditor got {answer.status_code} {reason}, not 403")
    assert not wrong, "\n".join(wrong)


# --- the screens -------------------------------------------------------------------

@pytest.fixture
def screens(app: Flask) -> Flask:
    admin.init_app(app)
    return app


def screen_writes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every writing route that is not an API operation; path
    arguments are filled with 1, which every converter takes."""
    api = {op.endpoint for op in OPERATIONS}
    adapter = app.url_map.bind("hub.test")
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in api:
            continue
        for method in sorted((rule.methods or set()) & WRITES):
            path = adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, 1),
                                 method=method)
            found.append((rule.endpoint, method, path))
    return found


def _as_auditor(app: Flask) -> ScreenClient:
    """A browser where an auditor has just signed in: their cookie and the idle clock."""
    client = ScreenClient(app, app.response_class, use_cookies=True)
    client.set_cookie(STAFF_COOKIE, make_staff(app, "auditor").token)
    with client.session_transaction() as stored:
        stored[SEEN_KEY] = int(time.time())
    return client


def _tables() -> dict[str, str]:
    """Each table's content as a digest: what a request changed, whatever it was. Read in
    a session of its own, so the reading takes no part in the request's transaction."""
    found = {}
    with database().sessions() as reader:
        conn = reader.connection()
        for name in inspect(conn).get_table_names():
            rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()  # schema names
            lines = sorted(repr(tuple(map(_plain, row))) for row in rows)
            found[name] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return found


def _plain(value: Any) -> Any:
    """A time as its UTC instant: how the driver labels the zone is no change."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    return value


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def _refused(answer: Any) -> bool:
    """403, or sent away to a refusal: another screen's start or the sign-in page."""
    if answer.status_code == 403:
        return True
    if answer.status_code in (302, 303):
        return not urlsplit(answer.headers.get("Location", "")).path.startswith("/audit")
    return False


def test_the_screen_exceptions_name_routes_that_exist(screens):
    registered = {endpoint for endpoint, _method, _path in screen_writes(screens)}
    assert set(SCREEN_ALLOWED) - registered == set()


def test_the_sweep_finds_the_auditors_own_screen_and_the_others(screens):
    screens_found = {endpoint.split(".")[0] for endpoint, _m, _p in screen_writes(screens)}
    assert {"kiosk", "agent", "staff", "audit"} <= screens_found


def sweep_screens(app: Flask) -> list[str]:
    """Every writing screen route, as an auditor: what let them through or changed data."""
    wrong = []
    for endpoint, method, path in screen_writes(app):
        with app.app_context():  # each request its own, as in a real server
            client = _as_auditor(app)
            before = _tables()
            answer = client.open(path, method=method, data={}, headers=SAME_ORIGIN)
            changed = _changed(before, _tables())
        allowed = SCREEN_ALLOWED.get(endpoint)
        what = f"{method} {path} ({endpoint}): {answer.status_code} " \
               f"{answer.headers.get('Location', '')}".rstrip()
        if allowed is None and not _refused(answer):
            wrong.append(f"{what}: let an auditor through")
        elif allowed is not None and not (_refused(answer)
                                          or answer.status_code == allowed.status):
            wrong.append(f"{what}, listed as {allowed.status} ({allowed.why})")
        if changed - (allowed.may_change if allowed else frozenset()):
            wrong.append(f"{what} changed {sorted(changed)}")
    return wrong


def test_every_writing_screen_route_refuses_an_auditor(screens):
    wrong = sweep_screens(screens)
    assert not wrong, "\n".join(wrong)


def test_the_sweep_catches_a_new_screen_route_that_lets_an_auditor_through(screens):
    leaky = screen_blueprint("leaky", __name__, "/leaky")
    leaky.add_url_rule("/do", "do", lambda: "done", methods=["POST"])
    screens.register_blueprint(leaky)
    assert [line for line in sweep_screens(screens) if "leaky" in line] == [
        "POST /leaky/do (leaky.do): 200: let an auditor through"]
