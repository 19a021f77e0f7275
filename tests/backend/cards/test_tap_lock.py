"""The holder's tap lock: with the PIN, a citizen turns tap use of their card off and on.

Each test runs on SQLite (the stepwise authentication) and PostgreSQL (the single
statement), like every card test.
"""

import pytest
from sqlalchemy import select, update

from backend.auth.principal import CardContext, Principal
from backend.cards import lifecycle, taplock
from backend.cards.models import Card, CardSession, Challenge
from backend.cards.store import digest
from backend.db import session
from backend.errors import ApiError
from backend.reasons import Reason
from backend.testing.cards import (
    ask_challenge,
    authenticate,
    make_soft_card,
    present_token,
    record_soft_card,
)
from backend.testing.identity import bearer

TAP_LOCK = "/api/v1/auth/tap-lock"
SESSION = "/api/v1/auth/session"


@pytest.fixture
def origin(app):
    return app.config["ORIGIN"]


@pytest.fixture
def holder(citizen):
    return citizen()


@pytest.fixture
def card(soft_card, holder):
    return soft_card(holder)


@pytest.fixture
def kiosk(terminal):
    return terminal("kiosk")


def _open(client, terminal_token, card, origin, key_ref):
    answer = authenticate(client, terminal_token, card, origin, key_ref)
    assert answer.status_code == 200, answer.json
    return answer.json["session_token"]


@pytest.fixture
def pin_session(client, kiosk, card, origin):
    """A PIN session of the card at a kiosk: what a citizen has after typing the PIN."""
    return _open(client, kiosk.token, card, origin, "9A")


def _lock(client, token, locked=True):
    return client.post(TAP_LOCK, json={"locked": locked}, headers=bearer(token))


def _locked(client, token, locked=True):
    answer = _lock(client, token, locked)
    assert answer.status_code == 200, answer.json
    return answer.json


def _refused(answer, status, reason):
    assert answer.status_code == status, answer.json
    assert answer.json["error"]["reason"] == reason, answer.json


def test_locking_answers_the_card_and_its_new_state(client, card, pin_session):
    assert _locked(client, pin_session) == {"card_serial": card.serial, "tap_locked": True}
    assert _locked(client, pin_session, False) == {"card_serial": card.serial,
                                                   "tap_locked": False}


def test_a_locked_cards_tap_is_refused_and_its_nonce_spent(client, kiosk, card, origin,
                                                           pin_session):
    _locked(client, pin_session)
    nonce = ask_challenge(client, kiosk.token)
    answer = present_token(client, kiosk.token, card.token(nonce, origin, "9E"))
    _refused(answer, 403, Reason.TAP_LOCKED)
    assert "PIN" in answer.json["error"]["message"]
    spent = session().execute(select(Challenge).where(
        Challenge.nonce_hash == digest(nonce))).scalar_one()
    assert spent.terminal_id == kiosk.terminal_id
    # one try per nonce: not even the PIN key gets a second go with it
    _refused(present_token(client, kiosk.token, card.token(nonce, origin, "9A")), 401,
             Reason.NONCE_REUSED)


def test_a_refused_tap_opens_no_session(client, kiosk, card, origin, pin_session):
    _locked(client, pin_session)
    before = session().execute(select(CardSession.id)).all()
    authenticate(client, kiosk.token, card, origin, "9E")
    assert session().execute(select(CardSession.id)).all() == before


def test_a_locked_cards_pin_still_opens_a_session(client, terminal, card, origin, pin_session):
    _locked(client, pin_session)
    answer = authenticate(client, terminal("counter").token, card, origin, "9A")
    assert answer.status_code == 200, answer.json
    assert answer.json["assurance"] == "pin"


def test_unlocking_lets_taps_through_again(client, terminal, card, origin, pin_session):
    gate = terminal("gate").token
    _locked(client, pin_session)
    _refused(authenticate(client, gate, card, origin, "9E"), 403, Reason.TAP_LOCKED)
    _locked(client, pin_session, False)
    answer = authenticate(client, gate, card, origin, "9E")
    assert answer.status_code == 200, answer.json
    assert answer.json["assurance"] == "tap"


def test_a_lock_is_the_holders_card_only(client, terminal, soft_card, citizen, card, origin,
                                         pin_session):
    other = soft_card(citizen())
    _locked(client, pin_session)
    assert authenticate(client, terminal("gate").token, other, origin, "9E").status_code == 200


def test_locking_needs_the_pin(client, kiosk, card, origin):
    tap = _open(client, kiosk.token, card, origin, "9E")
    _refused(_lock(client, tap), 403, Reason.ASSURANCE_TOO_LOW)
    _refused(_lock(client, tap, False), 403, Reason.ASSURANCE_TOO_LOW)
    assert taplock.tap_locked(session(), card.serial) is False


def test_locking_ends_the_cards_open_tap_sessions_at_once(client, terminal, kiosk, card,
                                                          origin, pin_session):
    at_gate = _open(client, terminal("gate").token, card, origin, "9E")
    at_kiosk = _open(client, kiosk.token, card, origin, "9E")
    pin_elsewhere = _open(client, terminal("counter").token, card, origin, "9A")
    _locked(client, pin_session)
    for tap in (at_gate, at_kiosk):
        _refused(client.get(SESSION, headers=bearer(tap)), 401, Reason.SESSION_ENDED)
    for pin in (pin_session, pin_elsewhere):
        assert client.get(SESSION, headers=bearer(pin)).status_code == 200
    ended = session().execute(select(CardSession.end_reason).where(
        CardSession.assurance == "tap")).scalars().all()
    assert ended == [taplock.END_REASON, taplock.END_REASON]


def test_a_tap_session_of_a_locked_card_is_refused_even_if_not_ended(client, terminal, card,
                                                                      origin):
    """A tap session opened in the instant the lock committed (not ended by it) is
    refused on first use: the session lookup reads the lock too."""
    tap = _open(client, terminal("gate").token, card, origin, "9E")
    session().execute(update(Card).where(Card.serial == card.serial).values(tap_locked=True))
    session().commit()
    _refused(client.get(SESSION, headers=bearer(tap)), 401, Reason.SESSION_ENDED)


def test_the_session_shows_whether_the_card_is_locked(client, pin_session):
    assert client.get(SESSION, headers=bearer(pin_session)).json["tap_locked"] is False
    _locked(client, pin_session)
    assert client.get(SESSION, headers=bearer(pin_session)).json["tap_locked"] is True


def test_a_lock_and_an_unlock_are_audited(client, kiosk, holder, card, pin_session, audit_log,
                                          audit_chain_intact):
    _locked(client, pin_session)
    _locked(client, pin_session, False)
    [locked] = audit_log(action="card.tap_lock")
    [unlocked] = audit_log(action="card.tap_unlock")
    for row in (locked, unlocked):
        assert (row["subject_type"], row["subject_id"]) == ("card", card.serial)
        assert (row["citizen_id"], row["actor"], row["terminal_id"]) == (
            holder.id, card.serial, kiosk.terminal_id)
        assert row["outcome"] == "ok"
    audit_chain_intact()


def test_asking_for_the_state_the_card_has_changes_and_audits_nothing(client, card,
                                                                       pin_session, audit_log):
    assert _locked(client, pin_session, False)["tap_locked"] is False
    assert audit_log(action="card.tap_unlock") == []
    _locked(client, pin_session)
    assert _locked(client, pin_session)["tap_locked"] is True
    assert len(audit_log(action="card.tap_lock")) == 1


def test_a_refused_tap_is_audited_with_its_reason(client, kiosk, card, origin, pin_session,
                                                  audit_log):
    _locked(client, pin_session)
    authenticate(client, kiosk.token, card, origin, "9E")
    assert audit_log(action="api.cards.token")[-1]["outcome"] == Reason.TAP_LOCKED


def test_staff_may_not_lock_a_card(client, staff_token):
    for role in ("admin", "clerk"):
        _refused(_lock(client, staff_token(role)), 403, Reason.ROLE_NOT_ALLOWED)


def test_a_terminal_token_without_a_card_may_not_lock(client, kiosk, terminal):
    _refused(_lock(client, kiosk.token), 403, Reason.FORBIDDEN)
    _refused(_lock(client, terminal("counter").token), 403, Reason.FORBIDDEN)


def test_a_pin_session_at_a_gate_or_an_agent_may_not_lock(client, terminal, card, origin):
    for kind in ("gate", "agent"):
        token = _open(client, terminal(kind).token, card, origin, "9A")
        _refused(_lock(client, token), 403, Reason.TERMINAL_KIND_NOT_ALLOWED)


def test_a_counter_pin_session_may_lock(client, terminal, card, origin):
    token = _open(client, terminal("counter").token, card, origin, "9A")
    assert _locked(client, token)["tap_locked"] is True


def test_without_a_token_locking_needs_authentication(client):
    _refused(client.post(TAP_LOCK, json={"locked": True}), 401,
             Reason.AUTHENTICATION_REQUIRED)


@pytest.mark.parametrize(("body", "reason"), [
    ({}, Reason.VALIDATION_FAILED),
    ({"locked": "yes"}, Reason.VALIDATION_FAILED),
    ({"locked": 1}, Reason.VALIDATION_FAILED),
    ({"locked": None}, Reason.VALIDATION_FAILED),
    ({"locked": True, "card_serial": "AAAA-BBBB-CCCC"}, Reason.UNKNOWN_FIELD),
])
def test_the_body_is_strict(client, pin_session, body, reason):
    _refused(client.post(TAP_LOCK, json=body, headers=bearer(pin_session)), 400, reason)


def test_a_new_card_starts_unlocked(app, client, terminal, card_ca, holder, card, origin,
                                    pin_session):
    _locked(client, pin_session)
    replacement = make_soft_card(card_ca, holder.national_number, holder.id)
    record_soft_card(replacement, old_reason="keyCompromise")
    assert taplock.tap_locked(session(), replacement.serial) is False
    answer = authenticate(client, terminal("gate").token, replacement, origin, "9E")
    assert answer.status_code == 200, answer.json
    # the old card's PIN session ended with the card
    _refused(client.get(SESSION, headers=bearer(pin_session)), 401, Reason.SESSION_ENDED)


def test_admins_see_the_lock_on_the_card(client, staff_token, card, pin_session):
    admin = staff_token("admin")
    read = client.get(f"/api/v1/cards/{card.serial}", headers=bearer(admin))
    assert read.json["tap_locked"] is False
    _locked(client, pin_session)
    read = client.get(f"/api/v1/cards/{card.serial}", headers=bearer(admin))
    assert read.json["tap_locked"] is True


# --- the domain function, as the kiosk's page will call it ------------------------------


def _principal(card, *, assurance="pin", terminal_kind="kiosk", kind="card"):
    context = CardContext(session_id="s1", card_serial=card.serial, citizen_id=card.citizen_id,
                          assurance=assurance, terminal_id="t1")
    return Principal(kind=kind, subject=card.serial, role=terminal_kind, terminal_id="t1",
                     card=context if kind == "card" else None)


@pytest.mark.parametrize(("principal", "reason"), [
    (lambda card: None, Reason.FORBIDDEN),
    (lambda card: _principal(card, kind="terminal"), Reason.FORBIDDEN),
    (lambda card: _principal(card, assurance="tap"), Reason.ASSURANCE_TOO_LOW),
    (lambda card: _principal(card, terminal_kind="gate"), Reason.TERMINAL_KIND_NOT_ALLOWED),
])
def test_the_domain_function_holds_the_same_rules(card, principal, reason):
    with pytest.raises(ApiError) as refused:
        taplock.set_tap_lock(session(), principal(card), True)
    assert refused.value.reason == reason
    assert taplock.tap_locked(session(), card.serial) is False


def test_the_domain_function_locks_the_sessions_own_card(card, audit_log):
    assert taplock.set_tap_lock(session(), _principal(card), True) is True
    session().commit()
    assert taplock.tap_locked(session(), card.serial) is True
    stored = session().execute(select(Card).where(Card.serial == card.serial)).scalar_one()
    assert stored.tap_locked_at is not None
    assert audit_log(action="card.tap_lock")[-1]["subject_id"] == card.serial
    assert taplock.set_tap_lock(session(), _principal(card), False) is False
    session().commit()
    assert session().execute(select(Card.tap_locked_at).where(
        Card.serial == card.serial)).scalar_one() is None


def test_a_card_suspended_meanwhile_cannot_be_locked(card):
    lifecycle.suspend(session(), card.serial)
    session().commit()
    with pytest.raises(ApiError) as refused:
        taplock.set_tap_lock(session(), _principal(card), True)
    assert refused.value.reason == Reason.CARD_STATE_INVALID
    session().rollback()


def test_reading_the_lock_of_an_unknown_card_is_not_found(card_ca):
    with pytest.raises(ApiError) as refused:
        taplock.tap_locked(session(), "0000-0000-0000")
    assert refused.value.reason == Reason.NOT_FOUND
