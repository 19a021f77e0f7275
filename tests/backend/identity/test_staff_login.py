"""Staff sign-in with a local password: tokens, refusals, and the throttle."""

import time

from backend.identity import state, tokens
from backend.reasons import Reason
from backend.testing.identity import bearer

PASSWORD = "kopi-tubruk-pagi-hari"
VICTIM_ADDRESS = "198.51.100.20"
ATTACKER_ADDRESS = "203.0.113.66"


def login(client, username, password, address="192.0.2.10"):
    return client.post("/api/v1/auth/staff/login",
                       json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_right_password_gives_a_token_that_identifies_the_clerk(client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    answer = login(client, clerk.username, PASSWORD)
    assert answer.status_code == 200
    assert answer.json["role"] == "clerk"
    assert answer.json["token_type"] == "Bearer"
    me = client.get("/api/v1/auth/whoami", headers=bearer(answer.json["access_token"]))
    assert me.status_code == 200
    assert (me.json["kind"], me.json["subject"], me.json["role"]) == (
        "staff", clerk.username, "clerk")


def test_username_is_not_case_sensitive(client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    assert login(client, clerk.username.upper(), PASSWORD).status_code == 200


def test_wrong_password_is_refused_as_invalid_credentials(client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    answer = login(client, clerk.username, PASSWORD + "x")
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.INVALID_CREDENTIALS


def test_unknown_username_gets_the_same_answer_as_a_wrong_password(client):
    answer = login(client, "nobody-here", PASSWORD)
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.INVALID_CREDENTIALS


def test_sso_only_account_cannot_sign_in_with_a_password(client, staff_account):
    clerk = staff_account("clerk")  # no password
    answer = login(client, clerk.username, PASSWORD)
    assert answer.json["error"]["reason"] == Reason.INVALID_CREDENTIALS


def test_disabled_account_is_refused_even_with_the_right_password(client, staff_account,
                                                                   staff_token):
    clerk = staff_account("clerk", password=PASSWORD)
    admin = staff_token("admin")
    client.post(f"/api/v1/staff/{clerk.username}/disable", headers=bearer(admin))
    answer = login(client, clerk.username, PASSWORD)
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ACCOUNT_DISABLED


def test_five_failures_lock_that_address_out_of_that_account(client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    for _ in range(5):
        assert login(client, clerk.username, "wrong-password-1", ATTACKER_ADDRESS
                     ).status_code == 401
    answer = login(client, clerk.username, PASSWORD, ATTACKER_ADDRESS)
    assert answer.status_code == 429
    assert answer.json["error"]["reason"] == Reason.RATE_LIMITED
    assert int(answer.headers["Retry-After"]) >= 1


def test_victim_signs_in_from_their_own_address_while_the_attacker_is_locked(
        client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    for _ in range(6):
        login(client, clerk.username, "wrong-password-1", ATTACKER_ADDRESS)
    assert login(client, clerk.username, PASSWORD, ATTACKER_ADDRESS).status_code == 429
    assert login(client, clerk.username, PASSWORD, VICTIM_ADDRESS).status_code == 200


def test_success_clears_the_failures_of_that_address(client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    for _ in range(4):
        login(client, clerk.username, "wrong-password-1")
    assert login(client, clerk.username, PASSWORD).status_code == 200
    for _ in range(4):
        assert login(client, clerk.username, "wrong-password-1").status_code == 401
    assert login(client, clerk.username, PASSWORD).status_code == 200


def test_expired_token_is_refused_as_expired(app, client, staff_account):
    clerk = staff_account("clerk")
    claims = tokens.read(state().key, clerk.token)
    old = tokens.issue(state().key, kind="staff", subject=clerk.username,
                       account_id=claims.account_id, role="clerk", generation=0,
                       ttl=app.config["ACCESS_TOKEN_TTL"], now=time.time() - 3600)
    answer = client.get("/api/v1/auth/whoami", headers=bearer(old.token))
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.TOKEN_EXPIRED


def test_token_lives_as_long_as_configured(app, client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    answer = login(client, clerk.username, PASSWORD)
    assert answer.json["expires_in"] == app.config["ACCESS_TOKEN_TTL"]
    claims = tokens.read(state().key, answer.json["access_token"])
    assert claims.expires_at - time.time() <= app.config["ACCESS_TOKEN_TTL"]


def test_token_signed_with_another_key_is_not_valid(client, staff_account):
    clerk = staff_account("clerk")
    forged = tokens.issue(tokens.derive_key("some other secret"), kind="staff",
                          subject=clerk.username, account_id="1", role="admin",
                          generation=0, ttl=900)
    answer = client.get("/api/v1/auth/whoami", headers=bearer(forged.token))
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.TOKEN_INVALID


def test_disabling_an_account_refuses_its_token_at_once(client, staff_account, staff_token):
    clerk = staff_account("clerk")
    assert client.get("/api/v1/auth/whoami", headers=bearer(clerk.token)).status_code == 200
    client.post(f"/api/v1/staff/{clerk.username}/disable", headers=bearer(staff_token("admin")))
    answer = client.get("/api/v1/auth/whoami", headers=bearer(clerk.token))
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.ACCOUNT_DISABLED


def test_sign_out_ends_every_token_of_the_account(client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    first = login(client, clerk.username, PASSWORD).json["access_token"]
    assert client.post("/api/v1/auth/staff/logout", headers=bearer(first)).status_code == 204
    for token in (first, clerk.token):
        answer = client.get("/api/v1/auth/whoami", headers=bearer(token))
        assert answer.json["error"]["reason"] == Reason.SESSION_ENDED
    assert login(client, clerk.username, PASSWORD).status_code == 200


def test_malformed_login_bodies_are_refused_with_reasons(client):
    cases = [
        (dict(data="{not json", content_type="application/json"), Reason.MALFORMED_JSON),
        (dict(json={"username": "a"}), Reason.VALIDATION_FAILED),
        (dict(json={"username": "a", "password": "b", "otp": 1}), Reason.UNKNOWN_FIELD),
        (dict(json={"username": "a", "password": "x" * 300}), Reason.VALIDATION_FAILED),
        (dict(json=["a", "b"]), Reason.VALIDATION_FAILED),
        (dict(data="username=a&password=b"), Reason.UNSUPPORTED_MEDIA_TYPE),
    ]
    for kwargs, reason in cases:
        answer = client.post("/api/v1/auth/staff/login", **kwargs)
        assert answer.status_code in (400, 415), kwargs
        assert answer.json["error"]["reason"] == reason, kwargs


def test_bearer_token_required_for_whoami(client):
    answer = client.get("/api/v1/auth/whoami")
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.AUTHENTICATION_REQUIRED


def test_sign_ins_and_failed_sign_ins_are_audited(client, staff_account, audit_log):
    clerk = staff_account("clerk", password=PASSWORD)
    login(client, clerk.username, "wrong-password-1")
    login(client, clerk.username, PASSWORD)
    records = audit_log(action="staff.login", subject_id=clerk.username)
    assert [r["outcome"] for r in records] == [Reason.INVALID_CREDENTIALS, "ok"]
    assert (records[1]["actor_kind"], records[1]["actor"]) == ("staff", clerk.username)


def test_a_failed_sign_in_is_recorded_once(client, staff_account, audit_log):
    clerk = staff_account("clerk", password=PASSWORD)
    before = len(audit_log())
    assert login(client, clerk.username, "wrong-password-1").status_code == 401
    [failure] = audit_log()[before:]
    assert (failure["action"], failure["outcome"]) == ("staff.login",
                                                        Reason.INVALID_CREDENTIALS)
