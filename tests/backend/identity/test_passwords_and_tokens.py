"""Password hashing and access tokens on their own, including hostile input."""

import time

import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.identity import passwords, tokens

KEY = tokens.derive_key("unit-test-secret")


def test_password_hash_is_argon2id_and_verifies():
    stored = passwords.hash_password("satu kartu untuk semua")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "satu kartu untuk semua") == (True, None)
    assert passwords.verify(stored, "satu kartu untuk semuA") == (False, None)


def test_same_password_hashes_differently_each_time():
    assert passwords.hash_password("satu kartu") != passwords.hash_password("satu kartu")


def test_hash_with_older_parameters_is_upgraded_on_success():
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pagi-pagi-sekali")
    ok, upgraded = passwords.verify(old, "pagi-pagi-sekali")
    assert ok and upgraded is not None and upgraded != old
    assert passwords.verify(upgraded, "pagi-pagi-sekali") == (True, None)


def test_account_without_a_password_never_matches():
    assert passwords.verify(None, "") == (False, None)
    assert passwords.verify(None, "anything at all") == (False, None)


def test_garbage_in_the_hash_column_is_a_mismatch_not_a_crash():
    assert passwords.verify("not-a-hash", "whatever") == (False, None)


@pytest.mark.parametrize("password", ["short", "x" * 300, "aaaabbbbaaaabbbb", "Kasir.Satu"])
def test_policy_refuses_weak_passwords(password):
    with pytest.raises(passwords.WeakPassword):
        passwords.check_policy(password, "kasir.satu")


def test_policy_accepts_a_passphrase():
    passwords.check_policy("teh botol di warung sebelah", "kasir.satu")


def test_token_round_trip_keeps_who_and_what():
    issued = tokens.issue(KEY, kind="terminal", subject="kiosk-1", account_id="kiosk-1",
                          role="kiosk", generation=3, ttl=900)
    claims = tokens.read(KEY, issued.token)
    assert (claims.kind, claims.subject, claims.role, claims.generation) == (
        "terminal", "kiosk-1", "kiosk", 3)
    assert claims.scopes == frozenset({"kiosk"}) and issued.scope == "kiosk"


def test_token_past_its_lifetime_raises_expired():
    issued = tokens.issue(KEY, kind="staff", subject="a", account_id="1", role="clerk",
                          generation=0, ttl=60, now=time.time() - 61)
    with pytest.raises(tokens.TokenExpired):
        tokens.read(KEY, issued.token)


def test_token_with_an_edited_payload_is_not_ours():
    issued = tokens.issue(KEY, kind="staff", subject="a", account_id="1", role="clerk",
                          generation=0, ttl=60)
    header, payload, signature = issued.token.split(".")
    forged = tokens.issue(KEY, kind="staff", subject="a", account_id="1", role="admin",
                          generation=0, ttl=60).token.split(".")[1]
    assert tokens.read(KEY, f"{header}.{forged}.{signature}") is None


def test_unsigned_token_is_not_ours():
    issued = tokens.issue(KEY, kind="staff", subject="a", account_id="1", role="admin",
                          generation=0, ttl=60)
    _, payload, _ = issued.token.split(".")
    none_header = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0"  # {"alg":"none","typ":"at+jwt"}
    assert tokens.read(KEY, f"{none_header}.{payload}.") is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.builds(lambda a, b, c: f"eyJ{a}.{b}.{c}",
                                         st.text(max_size=80), st.text(max_size=200),
                                         st.text(max_size=80)))
def test_any_string_is_read_as_a_token_or_refused_without_a_crash(raw):
    assert tokens.read(KEY, raw) is None
