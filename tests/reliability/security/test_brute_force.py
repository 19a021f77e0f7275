"""Brute force against the two password-like secrets the hub checks, at its endpoints.

PINs are not checked by the hub at all: the card counts wrong PINs and blocks itself
(tests/card_reader/test_vcard_engine.py, test_pcsc_integration.py); the hub only
authorises an unblock with the PUK at a counter. Staff passwords and terminal client
secrets are throttled per (account, address) and per address (backend/identity/
ratelimit.py, unit-tested in tests/backend/identity/test_ratelimit.py). These tests
prove the properties from outside: guessing gets locked, and the lock is the
guesser's, so no one can use it to lock another person or terminal out at will.
"""

from __future__ import annotations

import pytest

from backend.identity.ratelimit import STAFF_POLICY, TERMINAL_POLICY
from backend.reasons import Reason
from backend.testing.identity import basic, bearer

TOKEN = "/api/v1/oauth/token"
LOGIN = "/api/v1/auth/staff/login"
PASSWORD = "nasi uduk dan teh manis"
OWN_ADDRESS = "198.51.100.20"
ATTACKER = "203.0.113.66"


def token_request(client, client_id, secret, address):
    return client.post(TOKEN, data={"grant_type": "client_credentials"},
                       headers=basic(client_id, secret), environ_base={"REMOTE_ADDR": address})


def login(client, username, password, address, **headers):
    return client.post(LOGIN, json={"username": username, "password": password},
                       headers=headers, environ_base={"REMOTE_ADDR": address})


def test_guessing_client_ids_from_one_address_locks_that_address(client, terminal):
    kiosk = terminal("kiosk")
    for n in range(TERMINAL_POLICY.source_limit):
        assert token_request(client, f"tc_guess{n}", "secret", ATTACKER).status_code == 401
    locked = token_request(client, kiosk.client_id, kiosk.client_secret, ATTACKER)
    assert (locked.status_code, locked.json["reason"]) == (429, Reason.RATE_LIMITED)
    assert token_request(client, kiosk.client_id, kiosk.client_secret,
                         OWN_ADDRESS).status_code == 200


def test_guessers_on_many_addresses_cannot_lock_a_terminal_out_of_its_own(client, terminal):
    kiosk = terminal("kiosk")
    for n in range(12):
        address = f"203.0.113.{n + 1}"
        for _ in range(TERMINAL_POLICY.pair_limit + 1):
            token_request(client, kiosk.client_id, "guess", address)
        assert token_request(client, kiosk.client_id, kiosk.client_secret,
                             address).status_code == 429
    assert token_request(client, kiosk.client_id, kiosk.client_secret,
                         OWN_ADDRESS).status_code == 200


def test_a_forwarded_for_header_does_not_give_a_guesser_a_new_address(client, terminal):
    """With no proxy trusted (PROXY_HOPS=0), X-Forwarded-For is the caller's own text."""
    kiosk = terminal("kiosk")
    for n in range(TERMINAL_POLICY.pair_limit):
        client.post(TOKEN, data={"grant_type": "client_credentials"},
                    headers={**basic(kiosk.client_id, "guess"),
                             "X-Forwarded-For": f"192.0.2.{n + 1}"},
                    environ_base={"REMOTE_ADDR": ATTACKER})
    answer = client.post(TOKEN, data={"grant_type": "client_credentials"},
                         headers={**basic(kiosk.client_id, kiosk.client_secret),
                                  "X-Forwarded-For": "192.0.2.250"},
                         environ_base={"REMOTE_ADDR": ATTACKER})
    assert (answer.status_code, answer.json["reason"]) == (429, Reason.RATE_LIMITED)


def test_spraying_one_password_over_many_accounts_locks_the_sprayer(client, staff_account):
    victim = staff_account("clerk", password=PASSWORD)
    for n in range(STAFF_POLICY.source_limit):
        login(client, f"pegawai{n}", "password123", ATTACKER)
    locked = login(client, victim.username, PASSWORD, ATTACKER)
    assert (locked.status_code, locked.json["error"]["reason"]) == (429, Reason.RATE_LIMITED)
    assert login(client, victim.username, PASSWORD, OWN_ADDRESS).status_code == 200


@pytest.mark.slow
def test_guessers_on_many_addresses_cannot_lock_a_clerk_out_of_an_address_used_before(
        client, staff_account, staff_token):
    clerk = staff_account("clerk", password=PASSWORD)
    assert login(client, clerk.username, PASSWORD, OWN_ADDRESS).status_code == 200
    for n in range(STAFF_POLICY.hold_after + 1):
        login(client, clerk.username, "wrong guess", f"10.{n // 250}.{n % 250}.1")
    held = login(client, clerk.username, PASSWORD, "192.0.2.99")
    assert (held.status_code, held.json["error"]["reason"]) == (403, Reason.ACCOUNT_LOCKED)
    assert login(client, clerk.username, PASSWORD, OWN_ADDRESS).status_code == 200
    unlock = client.post(f"/api/v1/staff/{clerk.username}/unlock",
                         headers=bearer(staff_token("admin")))
    assert unlock.status_code == 200
    assert login(client, clerk.username, PASSWORD, "192.0.2.99").status_code == 200


def test_a_locked_guesser_is_not_told_whether_the_password_was_right(client, staff_account):
    clerk = staff_account("clerk", password=PASSWORD)
    for _ in range(STAFF_POLICY.pair_limit):
        login(client, clerk.username, "wrong guess", ATTACKER)
    right = login(client, clerk.username, PASSWORD, ATTACKER)
    wrong = login(client, clerk.username, "still wrong", ATTACKER)
    assert right.status_code == wrong.status_code == 429
    assert right.json["error"]["reason"] == wrong.json["error"]["reason"] == Reason.RATE_LIMITED
