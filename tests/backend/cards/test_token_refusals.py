"""Every way a card token is refused, each with its own reason (DESIGN.md order)."""

import base64
import datetime as dt
import json

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import text

from backend.cards import nonces
from backend.cards.certificates import Profile
from backend.cards.context import state
from backend.db import session
from backend.reasons import Reason
from backend.testing.cards import ask_challenge, present_token
from card_reader import wire

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def kiosk(terminal):
    return terminal("kiosk").token


@pytest.fixture
def origin(app):
    return app.config["ORIGIN"]


def _refused(answer, reason):
    assert answer.status_code in (400, 401, 403, 413), answer.json
    assert answer.json["error"]["reason"] == reason, answer.json


def test_a_body_that_is_not_json_is_malformed(client, kiosk):
    _refused(present_token(client, kiosk, b"{not json"), Reason.TOKEN_MALFORMED)


def test_a_token_missing_a_field_is_malformed(client, kiosk, soft_card, origin):
    token = soft_card().token(ask_challenge(client, kiosk), origin)
    del token["signature"]
    _refused(present_token(client, kiosk, token), Reason.TOKEN_MALFORMED)


def test_a_certificate_that_is_not_der_is_malformed(client, kiosk, soft_card, origin):
    token = soft_card().token(ask_challenge(client, kiosk), origin,
                              certificate=base64.b64encode(b"not a certificate").decode())
    _refused(present_token(client, kiosk, token), Reason.TOKEN_MALFORMED)


def test_a_token_larger_than_the_limit_is_oversized(client, kiosk):
    body = json.dumps({"certificate": "A" * (wire.MAX_TOKEN_JSON_BYTES + 1)}).encode()
    _refused(present_token(client, kiosk, body), Reason.TOKEN_OVERSIZED)


def test_a_certificate_field_beyond_its_limit_is_oversized(client, kiosk, soft_card, origin):
    token = soft_card().token(ask_challenge(client, kiosk), origin,
                              signature="A" * 200)
    _refused(present_token(client, kiosk, token), Reason.TOKEN_OVERSIZED)


def test_a_nonce_the_hub_never_issued_is_unknown(client, kiosk, soft_card, origin):
    token = soft_card().token(b"\x01" * 32, origin)
    _refused(present_token(client, kiosk, token), Reason.NONCE_UNKNOWN)


def test_a_nonce_past_its_five_minutes_is_expired(app, client, terminal, soft_card, origin):
    kiosk = terminal("kiosk")
    nonce = nonces.make(state(app).nonce_key, kiosk.terminal_id, NOW - dt.timedelta(seconds=1))
    _refused(present_token(client, kiosk.token, soft_card().token(nonce, origin)),
             Reason.NONCE_EXPIRED)


def test_a_nonce_from_another_hub_is_unknown(client, terminal, soft_card, origin):
    kiosk = terminal("kiosk")
    nonce = nonces.make(nonces.derive_key("another hub's secret"), kiosk.terminal_id,
                        NOW + dt.timedelta(minutes=5))
    _refused(present_token(client, kiosk.token, soft_card().token(nonce, origin)),
             Reason.NONCE_UNKNOWN)


def test_a_nonce_with_a_forged_expiry_is_unknown(client, kiosk, soft_card, origin):
    nonce = bytearray(ask_challenge(client, kiosk))
    nonce[32:36] = (int(NOW.timestamp()) + 86400).to_bytes(4, "big")
    _refused(present_token(client, kiosk, soft_card().token(bytes(nonce), origin)),
             Reason.NONCE_UNKNOWN)


def test_a_nonce_used_once_is_refused_the_second_time(client, kiosk, soft_card, origin):
    card = soft_card()
    nonce = ask_challenge(client, kiosk)
    assert present_token(client, kiosk, card.token(nonce, origin)).status_code == 200
    _refused(present_token(client, kiosk, card.token(nonce, origin)), Reason.NONCE_REUSED)


def test_a_nonce_spent_by_a_refused_token_cannot_be_retried(client, kiosk, soft_card, origin):
    card = soft_card()
    nonce = ask_challenge(client, kiosk)
    bad = card.token(nonce, origin, signature=base64.b64encode(card.sign("9E", origin,
                                                                            b"x" * 32)).decode())
    _refused(present_token(client, kiosk, bad), Reason.SIGNATURE_INVALID)
    _refused(present_token(client, kiosk, card.token(nonce, origin)), Reason.NONCE_REUSED)


def test_a_nonce_issued_to_another_terminal_is_refused(client, kiosk, terminal, soft_card,
                                                       origin):
    nonce = ask_challenge(client, terminal("kiosk").token)
    _refused(present_token(client, kiosk, soft_card().token(nonce, origin)),
             Reason.NONCE_OTHER_TERMINAL)


def test_another_terminals_spent_nonce_is_reused_before_other_terminal(client, kiosk, terminal,
                                                                        soft_card, origin):
    owner = terminal("kiosk").token
    card = soft_card()
    nonce = ask_challenge(client, owner)
    assert present_token(client, owner, card.token(nonce, origin)).status_code == 200
    _refused(present_token(client, kiosk, card.token(nonce, origin)), Reason.NONCE_REUSED)


def test_a_certificate_from_another_ca_is_untrusted(client, kiosk, soft_card, foreign_ca, origin):
    card = soft_card(ca=foreign_ca, record=False)
    _refused(present_token(client, kiosk, card.token(ask_challenge(client, kiosk), origin)),
             Reason.CERTIFICATE_UNTRUSTED)


def test_an_expired_certificate_is_refused(client, kiosk, soft_card, origin):
    card = soft_card(not_before=NOW - dt.timedelta(days=30),
                     not_after=NOW - dt.timedelta(days=1))
    _refused(present_token(client, kiosk, card.token(ask_challenge(client, kiosk), origin)),
             Reason.CERTIFICATE_EXPIRED)


def test_a_certificate_not_yet_valid_is_refused(client, kiosk, soft_card, origin):
    card = soft_card(not_before=NOW + dt.timedelta(days=1),
                     not_after=NOW + dt.timedelta(days=30))
    _refused(present_token(client, kiosk, card.token(ask_challenge(client, kiosk), origin)),
             Reason.CERTIFICATE_NOT_YET_VALID)


def test_a_tap_key_certificate_cannot_pass_for_the_pin_key(client, kiosk, soft_card, origin):
    card = soft_card(profiles={"9A": Profile(policy_key="9E")})
    _refused(present_token(client, kiosk,
                           card.token(ask_challenge(client, kiosk), origin, key_ref="9A")),
             Reason.CERTIFICATE_WRONG_USAGE)


def test_the_tap_certificate_presented_as_the_pin_key_is_refused(client, kiosk, soft_card,
                                                                  origin):
    token = soft_card().token(ask_challenge(client, kiosk), origin, key_ref="9E")
    token["key_ref"] = "9A"
    _refused(present_token(client, kiosk, token), Reason.CERTIFICATE_WRONG_USAGE)


def test_a_certificate_without_client_auth_is_refused(client, kiosk, soft_card, origin):
    card = soft_card(profiles={"9E": Profile(
        extended_usages=(ExtendedKeyUsageOID.EMAIL_PROTECTION,))})
    _refused(present_token(client, kiosk, card.token(ask_challenge(client, kiosk), origin)),
             Reason.CERTIFICATE_WRONG_USAGE)


def test_a_certificate_without_digital_signature_is_refused(client, kiosk, soft_card, origin):
    card = soft_card(profiles={"9E": Profile(digital_signature=False)})
    _refused(present_token(client, kiosk, card.token(ask_challenge(client, kiosk), origin)),
             Reason.CERTIFICATE_WRONG_USAGE)


def test_a_card_the_registry_never_recorded_is_unknown(client, kiosk, soft_card, origin):
    card = soft_card(record=False)
    _refused(present_token(client, kiosk, card.token(ask_challenge(client, kiosk), origin)),
             Reason.CARD_UNKNOWN)


def test_a_suspended_card_is_refused(client, kiosk, soft_card, origin):
    from backend.cards import lifecycle

    card = soft_card()
    lifecycle.suspend(session(), card.serial)
    session().commit()
    _refused(present_token(client, kiosk, card.token(ask_challenge(client, kiosk), origin)),
             Reason.CARD_SUSPENDED)


def test_a_revoked_card_is_refused(client, kiosk, soft_card, origin):
    from backend.cards import lifecycle

    card = soft_card()
    lifecycle.revoke(session(), card.serial, "keyCompromise")
    session().commit()
    _refused(present_token(client, kiosk, card.token(ask_challenge(client, kiosk), origin)),
             Reason.CARD_REVOKED)


def test_a_card_replaced_by_a_newer_one_is_superseded(client, kiosk, soft_card, citizen,
                                                      origin):
    holder = citizen()
    old = soft_card(holder)
    soft_card(holder)
    _refused(present_token(client, kiosk, old.token(ask_challenge(client, kiosk), origin)),
             Reason.CARD_SUPERSEDED)


def test_a_signature_over_another_nonce_is_invalid(client, kiosk, soft_card, origin):
    card = soft_card()
    nonce = ask_challenge(client, kiosk)
    forged = base64.b64encode(card.sign("9E", origin, b"\x02" * 32)).decode()
    _refused(present_token(client, kiosk, card.token(nonce, origin, signature=forged)),
             Reason.SIGNATURE_INVALID)


def test_a_signature_made_for_another_hub_is_invalid(client, kiosk, soft_card):
    card = soft_card()
    nonce = ask_challenge(client, kiosk)
    _refused(present_token(client, kiosk, card.token(nonce, "https://other-hub.example")),
             Reason.SIGNATURE_INVALID)


def test_a_signature_by_another_cards_key_is_invalid(client, kiosk, soft_card, origin):
    card, other = soft_card(), soft_card()
    nonce = ask_challenge(client, kiosk)
    stolen = base64.b64encode(other.sign("9E", origin, nonce)).decode()
    _refused(present_token(client, kiosk, card.token(nonce, origin, signature=stolen)),
             Reason.SIGNATURE_INVALID)


def test_a_refused_token_opens_no_session(client, kiosk, soft_card, origin):
    from sqlalchemy import func, select

    from backend.cards.models import CardSession

    card = soft_card()
    nonce = ask_challenge(client, kiosk)
    forged = base64.b64encode(card.sign("9E", origin, b"\x02" * 32)).decode()
    present_token(client, kiosk, card.token(nonce, origin, signature=forged))
    assert session().execute(select(func.count()).select_from(CardSession)).scalar() == 0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_nonce_of_a_run_the_database_has_left_is_expired_in_the_request_transaction_too(
        client, kiosk, soft_card, origin):
    # A token judged in the request's transaction (not `authenticate_alone`) checks the
    # server's run as well: a crash recovery or a failover starts a new one.
    nonce = ask_challenge(client, kiosk)
    session().execute(text("UPDATE database_run SET run = gen_random_uuid()"))
    session().commit()

    _refused(present_token(client, kiosk, soft_card().token(nonce, origin)),
             Reason.NONCE_EXPIRED)
    assert session().execute(text("SELECT count(*) FROM card_challenges")).scalar() == 0
