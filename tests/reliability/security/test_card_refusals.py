"""Card-token refusals beyond tests/backend/cards/test_token_refusals.py, each its own test.

That file covers revoked, suspended, superseded, expired, not yet valid, foreign CA,
a PIN-key policy on the tap key, the tap certificate presented as the PIN key, no
clientAuth, no digitalSignature, an unrecorded card, an unknown, expired, reused or
other terminal's nonce, and signatures over another nonce, for another hub or by
another card. Here: certificates our CA's key signed (or claims to) but that still
must not open a session, and token fields a card never sends. Each certificate is a
copy of a card's real one with one thing changed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ObjectIdentifier
from sqlalchemy import func, select

from backend.cards.certificates import POLICY_BY_KEY
from backend.cards.models import CardSession
from backend.db import session
from backend.reasons import Reason
from backend.testing.cards import ask_challenge, present_token


@pytest.fixture
def kiosk(terminal):
    return terminal("kiosk").token


@pytest.fixture
def origin(app):
    return app.config["ORIGIN"]


def variant(cert: x509.Certificate, sign_key, *, drop: Iterable[type] = (),
            add: Iterable[tuple[x509.ExtensionType, bool]] = (), public_key=None,
            serial: int | None = None) -> x509.Certificate:
    """`cert` with extensions dropped or added, another key, or another signer."""
    dropped = tuple(drop) + tuple(type(ext) for ext, _ in add)
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
               .public_key(public_key or cert.public_key())
               .serial_number(serial or cert.serial_number)
               .not_valid_before(cert.not_valid_before_utc)
               .not_valid_after(cert.not_valid_after_utc))
    for ext in cert.extensions:
        if not isinstance(ext.value, dropped):
            builder = builder.add_extension(ext.value, ext.critical)
    for value, critical in add:
        builder = builder.add_extension(value, critical)
    return builder.sign(sign_key, hashes.SHA256())


def token_with(card, cert: x509.Certificate, nonce: bytes, origin: str, key_ref: str = "9E",
               sign_ref: str | None = None) -> dict:
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    token = card.token(nonce, origin, sign_ref or key_ref, certificate=der)
    token["key_ref"] = key_ref
    return token


def refused(answer, reason: Reason) -> None:
    assert answer.status_code in (400, 401, 403), answer.json
    assert answer.json["error"]["reason"] == reason, answer.json
    assert session().execute(select(func.count()).select_from(CardSession)).scalar() == 0


def test_the_pin_certificate_presented_as_the_tap_key_is_refused(client, kiosk, soft_card,
                                                                 origin):
    card = soft_card()
    nonce = ask_challenge(client, kiosk)
    token = token_with(card, card.certificates["9A"], nonce, origin, key_ref="9E",
                       sign_ref="9A")
    refused(present_token(client, kiosk, token), Reason.CERTIFICATE_WRONG_USAGE)


def test_a_certificate_without_a_policy_is_refused(client, kiosk, soft_card, card_ca, origin):
    card = soft_card()
    cert = variant(card.certificates["9E"], card_ca.key, drop=[x509.CertificatePolicies])
    refused(present_token(client, kiosk, token_with(card, cert, ask_challenge(client, kiosk),
                                                    origin)),
            Reason.CERTIFICATE_WRONG_USAGE)


def test_a_certificate_with_both_key_policies_is_refused(client, kiosk, soft_card, card_ca,
                                                         origin):
    card = soft_card()
    both = x509.CertificatePolicies([x509.PolicyInformation(oid, None)
                                     for oid in POLICY_BY_KEY.values()])
    cert = variant(card.certificates["9E"], card_ca.key, add=[(both, False)])
    refused(present_token(client, kiosk, token_with(card, cert, ask_challenge(client, kiosk),
                                                    origin)),
            Reason.CERTIFICATE_WRONG_USAGE)


def test_a_ca_certificate_cannot_authenticate_a_card(client, kiosk, soft_card, card_ca, origin):
    card = soft_card()
    cert = variant(card.certificates["9E"], card_ca.key,
                   add=[(x509.BasicConstraints(ca=True, path_length=0), True)])
    refused(present_token(client, kiosk, token_with(card, cert, ask_challenge(client, kiosk),
                                                    origin)),
            Reason.CERTIFICATE_WRONG_USAGE)


def test_an_unknown_critical_extension_is_refused(client, kiosk, soft_card, card_ca, origin):
    card = soft_card()
    unknown = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    cert = variant(card.certificates["9E"], card_ca.key, add=[(unknown, True)])
    refused(present_token(client, kiosk, token_with(card, cert, ask_challenge(client, kiosk),
                                                    origin)),
            Reason.CERTIFICATE_WRONG_USAGE)


def test_a_key_other_than_p256_is_refused(client, kiosk, soft_card, card_ca, origin):
    card = soft_card()
    other = ec.generate_private_key(ec.SECP384R1())
    cert = variant(card.certificates["9E"], card_ca.key, public_key=other.public_key())
    refused(present_token(client, kiosk, token_with(card, cert, ask_challenge(client, kiosk),
                                                    origin)),
            Reason.CERTIFICATE_WRONG_USAGE)


def test_a_certificate_naming_our_ca_but_signed_by_another_key_is_untrusted(
        client, kiosk, soft_card, origin):
    card = soft_card()
    forger = ec.generate_private_key(ec.SECP256R1())
    cert = variant(card.certificates["9E"], forger)
    refused(present_token(client, kiosk, token_with(card, cert, ask_challenge(client, kiosk),
                                                    origin)),
            Reason.CERTIFICATE_UNTRUSTED)


def test_a_certificate_the_registry_did_not_record_for_the_card_is_unknown(
        client, kiosk, soft_card, card_ca, origin):
    card = soft_card()
    twin = variant(card.certificates["9E"], card_ca.key, serial=x509.random_serial_number())
    refused(present_token(client, kiosk, token_with(card, twin, ask_challenge(client, kiosk),
                                                    origin)),
            Reason.CARD_UNKNOWN)


def test_an_algorithm_other_than_es256_is_malformed(client, kiosk, soft_card, origin):
    token = soft_card().token(ask_challenge(client, kiosk), origin, algorithm="ES384")
    refused(present_token(client, kiosk, token), Reason.TOKEN_MALFORMED)


def test_a_key_reference_a_card_does_not_have_is_malformed(client, kiosk, soft_card, origin):
    token = soft_card().token(ask_challenge(client, kiosk), origin)
    token["key_ref"] = "9C"
    refused(present_token(client, kiosk, token), Reason.TOKEN_MALFORMED)


def test_a_signature_that_is_not_der_is_invalid(client, kiosk, soft_card, origin):
    token = soft_card().token(ask_challenge(client, kiosk), origin,
                              signature=base64.b64encode(b"\x30\x44" + b"\x01" * 68).decode())
    refused(present_token(client, kiosk, token), Reason.SIGNATURE_INVALID)


def test_a_nonce_that_is_not_base64_is_malformed(client, kiosk, soft_card, origin):
    token = soft_card().token(ask_challenge(client, kiosk), origin)
    token["nonce"] = "not base64 at all!"
    refused(present_token(client, kiosk, token), Reason.TOKEN_MALFORMED)
