"""Admins manage staff accounts and terminals; every change is audited."""

import pytest

from backend.reasons import Reason
from backend.testing.identity import bearer

GOOD_PASSWORD = "nasi-uduk-dan-teh-manis"


def test_admin_creates_a_clerk_who_can_then_sign_in(client, staff_token):
    admin = staff_token("admin")
    answer = client.post("/api/v1/staff", headers=bearer(admin), json={
        "username": "Dewi.Lestari", "role": "clerk", "display_name": "Dewi Lestari",
        "email": "Dewi@Kota.example", "password": GOOD_PASSWORD})
    assert answer.status_code == 201
    assert answer.json["username"] == "dewi.lestari"
    assert answer.json["email"] == "dewi@kota.example"
    assert answer.json["has_password"] is True
    assert "password" not in answer.json and "password_hash" not in answer.json
    login = client.post("/api/v1/auth/staff/login",
                        json={"username": "dewi.lestari", "password": GOOD_PASSWORD})
    assert login.status_code == 200


def test_creating_staff_is_audited_with_the_admin_as_actor(client, staff_account, audit_log):
    admin = staff_account("admin")
    client.post("/api/v1/staff", headers=bearer(admin.token),
                json={"username": "budi", "role": "agent"})
    records = audit_log(action="staff.create", subject_id="budi")
    assert len(records) == 1
    assert (records[0]["actor"], records[0]["role"]) == (admin.username, "admin")


@pytest.mark.parametrize("role", ["clerk", "agent", "auditor"])
def test_only_admins_create_staff(client, staff_token, role):
    answer = client.post("/api/v1/staff", headers=bearer(staff_token(role)),
                         json={"username": "someone", "role": "clerk"})
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ROLE_NOT_ALLOWED


def test_auditors_may_list_staff_and_terminals(client, staff_token):
    auditor = staff_token("auditor")
    assert client.get("/api/v1/staff", headers=bearer(auditor)).status_code == 200
    assert client.get("/api/v1/terminals", headers=bearer(auditor)).status_code == 200


def test_clerks_may_not_list_staff(client, staff_token):
    answer = client.get("/api/v1/staff", headers=bearer(staff_token("clerk")))
    assert answer.json["error"]["reason"] == Reason.ROLE_NOT_ALLOWED


def test_duplicate_username_is_refused(client, staff_token, staff_account):
    existing = staff_account("clerk")
    answer = client.post("/api/v1/staff", headers=bearer(staff_token("admin")),
                         json={"username": existing.username.upper(), "role": "clerk"})
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.DUPLICATE_USERNAME


def test_duplicate_email_is_refused(client, staff_token):
    admin = staff_token("admin")
    client.post("/api/v1/staff", headers=bearer(admin),
                json={"username": "sari", "role": "clerk", "email": "sari@kota.example"})
    answer = client.post("/api/v1/staff", headers=bearer(admin),
                         json={"username": "sari2", "role": "clerk",
                               "email": "SARI@kota.example"})
    assert answer.json["error"]["reason"] == Reason.DUPLICATE_EMAIL


@pytest.mark.parametrize("password", ["short", "aaaaaaaaaaaaaaaa", "rudi-hartono"])
def test_weak_passwords_are_refused(client, staff_token, password):
    answer = client.post("/api/v1/staff", headers=bearer(staff_token("admin")),
                         json={"username": "rudi-hartono", "role": "clerk",
                               "password": password})
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.PASSWORD_TOO_WEAK


@pytest.mark.parametrize("body, reason", [
    ({"username": "x y", "role": "clerk"}, Reason.VALIDATION_FAILED),
    ({"username": "ok", "role": "superuser"}, Reason.VALIDATION_FAILED),
    ({"username": "ok", "role": "clerk", "is_admin": True}, Reason.UNKNOWN_FIELD),
    ({"username": "ok", "role": "clerk", "email": "not-an-address"}, Reason.VALIDATION_FAILED),
    ({"username": 7, "role": "clerk"}, Reason.VALIDATION_FAILED),
])
def test_malformed_staff_bodies_are_refused_and_nothing_is_written(client, staff_token, body,
                                                                   reason):
    admin = staff_token("admin")
    before = client.get("/api/v1/staff", headers=bearer(admin)).json["items"]
    answer = client.post("/api/v1/staff", headers=bearer(admin), json=body)
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == reason
    assert client.get("/api/v1/staff", headers=bearer(admin)).json["items"] == before


def test_unknown_staff_account_is_not_found(client, staff_token):
    answer = client.get("/api/v1/staff/nobody", headers=bearer(staff_token("admin")))
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.NOT_FOUND


def test_the_last_enabled_admin_cannot_be_disabled(client, staff_account, staff_token):
    admin = staff_account("admin")
    answer = client.get("/api/v1/staff?role=admin&enabled=true", headers=bearer(admin.token))
    others = [a["username"] for a in answer.json["items"] if a["username"] != admin.username]
    for username in others:
        client.post(f"/api/v1/staff/{username}/disable", headers=bearer(admin.token))
    answer = client.post(f"/api/v1/staff/{admin.username}/disable", headers=bearer(admin.token))
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.LAST_ADMIN


def test_disabled_account_can_be_enabled_again(client, staff_account, staff_token):
    clerk = staff_account("clerk")
    admin = staff_token("admin")
    client.post(f"/api/v1/staff/{clerk.username}/disable", headers=bearer(admin))
    answer = client.post(f"/api/v1/staff/{clerk.username}/enable", headers=bearer(admin))
    assert answer.json["enabled"] is True


def test_register_terminal_shows_the_secret_once(client, staff_token):
    admin = staff_token("admin")
    answer = client.post("/api/v1/terminals", headers=bearer(admin),
                         json={"kind": "kiosk", "name": "Kelurahan Menteng kiosk 1"})
    assert answer.status_code == 201
    created = answer.json
    assert created["scope"] == "kiosk" and len(created["client_secret"]) >= 40
    listed = client.get("/api/v1/terminals?kind=kiosk", headers=bearer(admin)).json["items"]
    mine = [t for t in listed if t["terminal_id"] == created["terminal_id"]]
    assert mine and "client_secret" not in mine[0]
    one = client.get(f"/api/v1/terminals/{created['terminal_id']}", headers=bearer(admin))
    assert "client_secret" not in one.json


def test_registering_and_disabling_a_terminal_are_audited(client, staff_token, audit_log):
    admin = staff_token("admin")
    created = client.post("/api/v1/terminals", headers=bearer(admin),
                          json={"kind": "agent", "name": "e-Warong Sejahtera"}).json
    client.post(f"/api/v1/terminals/{created['terminal_id']}/disable", headers=bearer(admin))
    actions = [r["action"] for r in audit_log(subject_id=created["terminal_id"])]
    assert actions == ["terminal.register", "terminal.disable"]


@pytest.mark.parametrize("body, reason", [
    ({"kind": "atm", "name": "x"}, Reason.VALIDATION_FAILED),
    ({"kind": "kiosk"}, Reason.VALIDATION_FAILED),
    ({"kind": "kiosk", "name": ""}, Reason.VALIDATION_FAILED),
    ({"kind": "kiosk", "name": "x", "client_secret": "mine"}, Reason.UNKNOWN_FIELD),
])
def test_malformed_terminal_bodies_are_refused(client, staff_token, body, reason):
    answer = client.post("/api/v1/terminals", headers=bearer(staff_token("admin")), json=body)
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == reason


def test_unknown_terminal_is_not_found(client, staff_token):
    answer = client.post("/api/v1/terminals/kiosk-0000000000/disable",
                         headers=bearer(staff_token("admin")))
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.NOT_FOUND


def test_bad_query_values_are_refused(client, staff_token):
    answer = client.get("/api/v1/staff?enabled=maybe", headers=bearer(staff_token("admin")))
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED
