"""Terminals sign in with OAuth2 client credentials; every refusal says why."""

import pytest

from backend.reasons import Reason
from backend.testing.identity import basic, bearer

TOKEN = "/api/v1/oauth/token"


def token_request(client, credentials=None, address="192.0.2.30", **form):
    form.setdefault("grant_type", "client_credentials")
    headers = basic(*credentials) if credentials else {}
    return client.post(TOKEN, data=form, headers=headers, environ_base={"REMOTE_ADDR": address})


def assert_oauth_error(answer, status, error, reason):
    assert answer.status_code == status, answer.json
    assert answer.json["error"] == error
    assert answer.json["reason"] == reason
    assert answer.headers["Cache-Control"] == "no-store"


def test_client_credentials_give_a_token_scoped_to_the_terminal_kind(client, terminal):
    kiosk = terminal("kiosk")
    answer = token_request(client, (kiosk.client_id, kiosk.client_secret), scope="kiosk")
    assert answer.status_code == 200
    assert answer.json["token_type"] == "Bearer"
    assert answer.json["scope"] == "kiosk"
    assert answer.json["terminal_id"] == kiosk.terminal_id
    assert answer.headers["Cache-Control"] == "no-store"
    me = client.get("/api/v1/auth/whoami", headers=bearer(answer.json["access_token"]))
    assert me.json == {"kind": "terminal", "subject": kiosk.terminal_id, "role": "kiosk",
                       "terminal_id": kiosk.terminal_id, "scopes": ["kiosk"],
                       "card_serial": None, "assurance": None}


def test_no_scope_asked_gets_the_terminal_kind(client, terminal):
    gate = terminal("gate")
    answer = token_request(client, (gate.client_id, gate.client_secret))
    assert answer.json["scope"] == "gate"


def test_credentials_in_the_form_work_too(client, terminal):
    counter = terminal("counter")
    answer = token_request(client, client_id=counter.client_id,
                           client_secret=counter.client_secret)
    assert answer.status_code == 200
    assert answer.json["scope"] == "counter"


def test_wrong_secret_is_invalid_client(client, terminal):
    kiosk = terminal("kiosk")
    answer = token_request(client, (kiosk.client_id, "not-the-secret"))
    assert_oauth_error(answer, 401, "invalid_client", Reason.INVALID_CLIENT)
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_unknown_client_gets_the_same_answer_as_a_wrong_secret(client, terminal):
    kiosk = terminal("kiosk")
    wrong = token_request(client, (kiosk.client_id, "not-the-secret")).json
    unknown = token_request(client, ("tc_000000000000000000000000", "whatever")).json
    assert unknown == wrong


def test_scope_of_another_kind_is_invalid_scope(client, terminal):
    kiosk = terminal("kiosk")
    answer = token_request(client, (kiosk.client_id, kiosk.client_secret), scope="counter")
    assert_oauth_error(answer, 400, "invalid_scope", Reason.INVALID_SCOPE)


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", ""])
def test_other_grant_types_are_unsupported(client, terminal, grant_type):
    kiosk = terminal("kiosk")
    answer = token_request(client, (kiosk.client_id, kiosk.client_secret),
                           grant_type=grant_type)
    assert_oauth_error(answer, 400, "unsupported_grant_type", Reason.UNSUPPORTED_GRANT_TYPE)


def test_missing_credentials_are_invalid_client(client):
    answer = token_request(client)
    assert_oauth_error(answer, 401, "invalid_client", Reason.INVALID_CLIENT)


def test_two_ways_of_client_authentication_at_once_are_refused(client, terminal):
    kiosk = terminal("kiosk")
    answer = token_request(client, (kiosk.client_id, kiosk.client_secret),
                           client_id=kiosk.client_id, client_secret=kiosk.client_secret)
    assert_oauth_error(answer, 400, "invalid_request", Reason.INVALID_REQUEST)


@pytest.mark.parametrize("header", ["Basic %%%", "Basic " + "gA==", "Basic " + "x" * 500])
def test_garbled_basic_credentials_are_refused_without_a_crash(client, header):
    answer = client.post(TOKEN, data={"grant_type": "client_credentials"},
                         headers={"Authorization": header})
    assert answer.status_code in (400, 401)
    assert answer.json["reason"] in (Reason.INVALID_REQUEST, Reason.INVALID_CLIENT)


def test_json_body_is_not_a_token_request(client, terminal):
    kiosk = terminal("kiosk")
    answer = client.post(TOKEN, json={"grant_type": "client_credentials"},
                         headers=basic(kiosk.client_id, kiosk.client_secret))
    assert_oauth_error(answer, 400, "unsupported_grant_type", Reason.UNSUPPORTED_GRANT_TYPE)


def test_plain_http_from_a_remote_host_is_refused(client, terminal):
    kiosk = terminal("kiosk")
    answer = client.post(TOKEN, data={"grant_type": "client_credentials"},
                         headers=basic(kiosk.client_id, kiosk.client_secret),
                         base_url="http://hub.example.test")
    assert_oauth_error(answer, 400, "invalid_request", Reason.INSECURE_TRANSPORT)


def test_disabled_terminal_is_refused_at_once(client, terminal, staff_token):
    kiosk = terminal("kiosk")
    assert client.get("/api/v1/auth/whoami", headers=bearer(kiosk.token)).status_code == 200
    admin = staff_token("admin")
    assert client.post(f"/api/v1/terminals/{kiosk.terminal_id}/disable",
                       headers=bearer(admin)).status_code == 200
    answer = client.get("/api/v1/auth/whoami", headers=bearer(kiosk.token))
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.TERMINAL_DISABLED


def test_disabled_terminal_gets_no_new_token(client, terminal, staff_token):
    kiosk = terminal("kiosk")
    client.post(f"/api/v1/terminals/{kiosk.terminal_id}/disable",
                headers=bearer(staff_token("admin")))
    answer = token_request(client, (kiosk.client_id, kiosk.client_secret))
    assert_oauth_error(answer, 401, "invalid_client", Reason.TERMINAL_DISABLED)


def test_new_secret_ends_the_old_secret_and_its_tokens(client, terminal, staff_token):
    kiosk = terminal("kiosk")
    answer = client.post(f"/api/v1/terminals/{kiosk.terminal_id}/secret",
                         headers=bearer(staff_token("admin")))
    new_secret = answer.json["client_secret"]
    assert new_secret != kiosk.client_secret
    stale = client.get("/api/v1/auth/whoami", headers=bearer(kiosk.token))
    assert stale.json["error"]["reason"] == Reason.SESSION_ENDED
    assert token_request(client, (kiosk.client_id, kiosk.client_secret)).status_code == 401
    assert token_request(client, (kiosk.client_id, new_secret)).status_code == 200


def test_guessing_secrets_locks_the_guessing_address_only(client, terminal):
    kiosk = terminal("kiosk")
    for _ in range(5):
        token_request(client, (kiosk.client_id, "guess"), address="203.0.113.9")
    locked = token_request(client, (kiosk.client_id, kiosk.client_secret),
                           address="203.0.113.9")
    assert_oauth_error(locked, 429, "invalid_client", Reason.RATE_LIMITED)
    assert "Retry-After" in locked.headers
    elsewhere = token_request(client, (kiosk.client_id, kiosk.client_secret),
                              address="198.51.100.4")
    assert elsewhere.status_code == 200


def test_a_wrong_scope_with_the_right_secret_is_not_counted_as_a_guess(client, terminal):
    kiosk = terminal("kiosk")
    for _ in range(6):
        token_request(client, (kiosk.client_id, kiosk.client_secret), scope="gate")
    assert token_request(client, (kiosk.client_id, kiosk.client_secret)).status_code == 200


def test_terminal_token_is_not_accepted_where_staff_are_required(client, terminal):
    kiosk = terminal("kiosk")
    answer = client.get("/api/v1/staff", headers=bearer(kiosk.token))
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.TERMINAL_KIND_NOT_ALLOWED


def test_terminal_sign_ins_and_refusals_are_audited(client, terminal, audit_log):
    kiosk = terminal("kiosk")
    token_request(client, (kiosk.client_id, "not-the-secret"))
    signed_in = audit_log(action="terminal.token", subject_id=kiosk.terminal_id)
    assert [(r["actor_kind"], r["actor"]) for r in signed_in] == [("terminal", kiosk.terminal_id)]
    refused = audit_log(action="api.identity.oauth_token")
    assert refused[-1]["outcome"] == Reason.INVALID_CLIENT
    assert kiosk.client_id in refused[-1]["details"]


def test_whoami_names_the_card_behind_a_card_session(client, citizen, card_session):
    token = card_session(citizen(), assurance="pin", terminal_kind="kiosk")
    me = client.get("/api/v1/auth/whoami", headers=bearer(token)).json
    assert (me["kind"], me["role"], me["assurance"]) == ("card", "kiosk", "pin")
    assert me["card_serial"] and me["terminal_id"]
