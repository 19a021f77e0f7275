"""One-time codes for staff accounts: enrolment, the secret at rest, the window, no
reuse, the API's answers and the throttle, and the console command."""

import json
import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from backend.db import database, session
from backend.identity import accounts, totp
from backend.identity.models import StaffAccount
from backend.reasons import Reason
from backend.testing.identity import bearer

PASSWORD = "soto-ayam-hangat-sekali"


def login(client, username, code=None, password=PASSWORD, address="192.0.2.10"):
    body = {"username": username, "password": password}
    if code is not None:
        body["totp"] = code
    return client.post("/api/v1/auth/staff/login", json=body,
                       environ_base={"REMOTE_ADDR": address})


def enrol(app, username):
    with app.app_context(), database().transaction() as tx:
        return totp.enable(tx, accounts.get_staff(tx, username)).secret


def code_for(secret, steps_from_now=0):
    return totp.code_at(secret, totp.current_step() + steps_from_now)


def wrong_code(secret):
    good = {code_for(secret, d) for d in (-2, -1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in good)


@pytest.fixture
def clerk(app, staff_account):
    account = staff_account("clerk", password=PASSWORD)
    return account, enrol(app, account.username)


# --- enrolment and the secret at rest ------------------------------------------------

def test_enrolment_gives_a_160_bit_secret_and_an_otpauth_uri():
    enrolment = totp.new_enrolment("wulan")
    parts = urlsplit(enrolment.uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parse_qs(parts.query)["secret"] == [enrolment.secret]
    assert parse_qs(parts.query)["issuer"] == ["SatuKartu"]
    assert "wulan" in parts.path
    assert len(enrolment.secret) == 32  # base32: 160 bits


def test_the_stored_secret_is_useless_without_the_hubs_key(app, clerk):
    account, secret = clerk
    stored = session().execute(select(StaffAccount.totp_secret, StaffAccount.id).where(
        StaffAccount.username == account.username)).one()
    assert secret not in stored.totp_secret
    assert totp.unseal(stored.totp_secret, stored.id) == secret
    with pytest.raises(totp.UnreadableSecret):
        totp.unseal(stored.totp_secret, stored.id, secret_key="another hub's key")


def test_a_sealed_secret_copied_to_another_account_does_not_open(app, clerk):
    account, _ = clerk
    stored = session().execute(select(StaffAccount.totp_secret, StaffAccount.id).where(
        StaffAccount.username == account.username)).one()
    with pytest.raises(totp.UnreadableSecret):
        totp.unseal(stored.totp_secret, stored.id + 1)


# --- codes ---------------------------------------------------------------------------

@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_a_code_one_step_either_side_is_accepted(steps):
    secret = pyotp.random_base32(32)
    now = time.time()
    code = totp.code_at(secret, totp.current_step(now) + steps)
    assert totp.matching_step(secret, code, now) == totp.current_step(now) + steps


@pytest.mark.parametrize("steps", [-3, -2, 2, 3])
def test_a_code_further_off_is_refused(steps):
    secret = pyotp.random_base32(32)
    now = time.time()
    code = totp.code_at(secret, totp.current_step(now) + steps)
    near = {totp.code_at(secret, totp.current_step(now) + d) for d in (-1, 0, 1)}
    if code not in near:  # one in a million, two codes of a secret agree
        assert totp.matching_step(secret, code, now) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", None])
def test_a_code_that_is_not_six_digits_matches_nothing(typed):
    assert totp.matching_step(pyotp.random_base32(32), typed) is None


def test_spaces_in_a_typed_code_do_not_matter():
    secret = pyotp.random_base32(32)
    code = totp.code_at(secret, totp.current_step())
    assert totp.matching_step(secret, f"{code[:3]} {code[3:]}") is not None


# --- the API -------------------------------------------------------------------------

def test_the_password_alone_is_refused_totp_required(client, clerk):
    account, _ = clerk
    answer = login(client, account.username)
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.TOTP_REQUIRED


def test_a_wrong_code_is_refused_totp_invalid(client, clerk):
    account, secret = clerk
    answer = login(client, account.username, wrong_code(secret))
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.TOTP_INVALID


def test_the_password_and_the_current_code_give_a_token(client, clerk):
    account, secret = clerk
    answer = login(client, account.username, code_for(secret))
    assert answer.status_code == 200, answer.json
    me = client.get("/api/v1/auth/whoami", headers=bearer(answer.json["access_token"]))
    assert me.json["subject"] == account.username


def test_a_code_is_good_once(client, clerk):
    account, secret = clerk
    code = code_for(secret)
    assert login(client, account.username, code).status_code == 200
    again = login(client, account.username, code)
    assert again.status_code == 401
    assert again.json["error"]["reason"] == Reason.TOTP_INVALID


def test_after_a_later_code_an_earlier_one_is_refused(client, clerk):
    account, secret = clerk
    assert login(client, account.username, code_for(secret, 1)).status_code == 200
    earlier = login(client, account.username, code_for(secret, 0))
    assert earlier.json["error"]["reason"] == Reason.TOTP_INVALID


def test_a_wrong_password_with_a_right_code_is_still_a_wrong_password(client, clerk):
    account, secret = clerk
    answer = login(client, account.username, code_for(secret), password="not-it-at-all")
    assert answer.json["error"]["reason"] == Reason.INVALID_CREDENTIALS


def test_missing_and_wrong_codes_count_like_wrong_passwords(client, clerk):
    account, secret = clerk
    for code in (None, wrong_code(secret), None, wrong_code(secret), wrong_code(secret)):
        assert login(client, account.username, code, address="203.0.113.9"
                     ).status_code == 401
    locked = login(client, account.username, code_for(secret), address="203.0.113.9")
    assert locked.status_code == 429
    assert locked.json["error"]["reason"] == Reason.RATE_LIMITED


def test_an_account_without_totp_ignores_a_code(client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    assert login(client, clerk.username, "123456").status_code == 200


def test_sign_ins_with_a_code_are_audited_as_such(client, clerk, audit_log):
    account, secret = clerk
    login(client, account.username)
    login(client, account.username, code_for(secret))
    records = audit_log(action="staff.login", subject_id=account.username)
    assert [r["outcome"] for r in records] == ["totp_required", "ok"]
    assert '"password+totp"' in records[1]["details"]
    assert all(secret not in (r["details"] or "") for r in records)


def test_the_account_says_whether_totp_is_on(client, clerk, staff_token):
    account, _ = clerk
    shown = client.get(f"/api/v1/staff/{account.username}",
                       headers=bearer(staff_token("admin")))
    assert shown.json["totp_enabled"] is True
    assert "totp_secret" not in shown.json


# --- the console ---------------------------------------------------------------------

@pytest.fixture
def hub(cli_hub):
    """The console's hub with a clerk, sari, to turn codes on for."""
    run, _ = cli_hub
    run("staff", "add", "sari", "--role", "clerk", "--password-stdin", stdin=PASSWORD + "\n")
    return cli_hub


def test_enable_prints_the_secret_once_and_the_account_then_needs_codes(hub):
    run, client = hub
    shown = json.loads(run("staff", "totp", "enable", "sari", "--json").output)
    assert shown["otpauth_uri"].startswith("otpauth://totp/")
    assert login(client, "sari").json["error"]["reason"] == Reason.TOTP_REQUIRED
    assert login(client, "sari", pyotp.TOTP(shown["secret"]).now()).status_code == 200


def test_the_secret_is_shown_by_enable_only(hub):
    run, _ = hub
    shown = json.loads(run("staff", "totp", "enable", "sari", "--json").output)
    for args in (("staff", "list", "--json"), ("staff", "list")):
        assert shown["secret"] not in run(*args).output


def test_the_text_output_names_the_uri_and_the_secret(hub):
    run, _ = hub
    output = run("staff", "totp", "enable", "sari").output
    assert "otpauth://totp/" in output and "shown once" in output


def test_disable_lets_the_password_alone_sign_in_again(hub):
    run, client = hub
    run("staff", "totp", "enable", "sari")
    result = run("staff", "totp", "disable", "sari")
    assert result.exit_code == 0, result.output
    assert login(client, "sari").status_code == 200


def test_enable_for_an_unknown_account_fails(hub):
    run, _ = hub
    result = run("staff", "totp", "enable", "nobody")
    assert result.exit_code != 0
    assert "not_found" in result.output
