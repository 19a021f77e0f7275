"""Nonces that prove themselves: issued by this hub, until when, for which terminal."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from backend.cards import nonces

KEY = nonces.derive_key("test-secret")
LATER = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=5)


def test_a_nonce_reads_back_as_known_unexpired_and_bound_to_its_terminal():
    verdict = nonces.read(KEY, nonces.make(KEY, "kiosk-1", LATER), "kiosk-1")
    assert (verdict.known, verdict.expires_at, verdict.for_terminal) == (True, LATER, True)


def test_a_nonce_is_known_but_not_bound_at_another_terminal():
    verdict = nonces.read(KEY, nonces.make(KEY, "kiosk-1", LATER), "kiosk-2")
    assert verdict.known and not verdict.for_terminal


def test_another_key_does_not_know_the_nonce():
    nonce = nonces.make(KEY, "kiosk-1", LATER)
    assert not nonces.read(nonces.derive_key("other"), nonce, "kiosk-1").known


@given(position=st.integers(0, nonces.NONCE_BYTES - 1), flip=st.integers(1, 255))
def test_changing_any_byte_of_the_proof_or_expiry_is_noticed(position, flip):
    nonce = bytearray(nonces.make(KEY, "kiosk-1", LATER))
    nonce[position] ^= flip
    verdict = nonces.read(KEY, bytes(nonce), "kiosk-1")
    assert not (verdict.known and verdict.for_terminal)


@given(st.binary(max_size=80))
def test_arbitrary_bytes_are_not_known(raw):
    assert not nonces.read(KEY, raw, "kiosk-1").known
