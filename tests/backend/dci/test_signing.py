"""Signatures in the document's form: what we sign verifies, anything changed does not."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.dci import signing

HEADER = {"sender_id": "peer", "message_id": "m-1", "action": "search"}
MESSAGE = {"transaction_id": "t-1", "search_request": []}


def _keys(key):
    return lambda sender, key_id: key.public_key() if (sender, key_id) == ("peer", "k1") \
        else None


def test_a_signature_names_the_sender_key_and_algorithm_in_its_kid():
    key = Ed25519PrivateKey.generate()
    value = signing.sign(key, sender_id="peer", key_id="k1", header=HEADER, message=MESSAGE)
    assert value.startswith('Signature: namespace="spdci", kidId="peer|k1|ed25519"')
    assert signing.verify(value, HEADER, MESSAGE, _keys(key)).key_id == "k1"


def test_the_canonical_form_ignores_key_order():
    key = Ed25519PrivateKey.generate()
    value = signing.sign(key, sender_id="peer", key_id="k1", header=HEADER, message=MESSAGE)
    reordered = dict(reversed(list(HEADER.items())))
    signing.verify(value, reordered, MESSAGE, _keys(key))


def test_a_changed_message_does_not_verify():
    key = Ed25519PrivateKey.generate()
    value = signing.sign(key, sender_id="peer", key_id="k1", header=HEADER, message=MESSAGE)
    with pytest.raises(signing.SignatureError):
        signing.verify(value, HEADER, {**MESSAGE, "transaction_id": "t-2"}, _keys(key))


def test_an_expired_signature_does_not_verify():
    key = Ed25519PrivateKey.generate()
    value = signing.sign(key, sender_id="peer", key_id="k1", header=HEADER, message=MESSAGE,
                         now=time.time() - 7200)
    with pytest.raises(signing.SignatureError, match="not valid at this time"):
        signing.verify(value, HEADER, MESSAGE, _keys(key))


def test_another_peers_key_does_not_verify():
    value = signing.sign(Ed25519PrivateKey.generate(), sender_id="peer", key_id="k1",
                         header=HEADER, message=MESSAGE)
    with pytest.raises(signing.SignatureError):
        signing.verify(value, HEADER, MESSAGE, _keys(Ed25519PrivateKey.generate()))


def test_a_signature_living_longer_than_the_lifetime_does_not_verify():
    key = Ed25519PrivateKey.generate()
    value = signing.sign(key, sender_id="peer", key_id="k1", header=HEADER, message=MESSAGE,
                         lifetime=signing.LIFETIME * 24 * 365)
    with pytest.raises(signing.SignatureError, match="at most"):
        signing.verify(value, HEADER, MESSAGE, _keys(key))
