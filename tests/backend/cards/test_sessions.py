"""Card sessions: opened by a signature, bound to a terminal, ended by logout or the card."""

from sqlalchemy import select

from backend.audit.models import AuditRecord
from backend.cards import lifecycle
from backend.db import session
from backend.reasons import Reason
from backend.registry.refs import citizen_ref
from backend.testing.cards import authenticate
from backend.testing.identity import bearer


def _session_of(client, token):
    return client.get("/api/v1/auth/session", headers=bearer(token))


def test_the_tap_key_opens_a_tap_session(app, client, terminal, soft_card):
    answer = authenticate(client, terminal("gate").token, soft_card(), app.config["ORIGIN"],
                          "9E")
    assert answer.status_code == 200
    assert answer.json["assurance"] == "tap"


def test_the_pin_key_opens_a_pin_session(app, client, terminal, soft_card):
    answer = authenticate(client, terminal("counter").token, soft_card(),
                          app.config["ORIGIN"], "9A")
    assert answer.status_code == 200
    assert answer.json["assurance"] == "pin"


def test_a_session_names_the_card_its_holder_and_the_terminal(app, client, terminal, soft_card,
                                                              citizen):
    holder = citizen()
    card = soft_card(holder)
    kiosk = terminal("kiosk")
    token = authenticate(client, kiosk.token, card, app.config["ORIGIN"]).json["session_token"]
    info = _session_of(client, token).json
    assert info["card_serial"] == card.serial
    assert info["citizen_ref"] == citizen_ref(holder.id)
    assert info["terminal_id"] == kiosk.terminal_id


def test_the_card_session_fixture_gives_a_working_bearer_token(client, card_session, citizen):
    token = card_session(citizen(), assurance="tap", terminal_kind="gate")
    assert _session_of(client, token).json["assurance"] == "tap"


def test_logout_ends_the_session(client, card_session, citizen):
    token = card_session(citizen())
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    answer = _session_of(client, token)
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.SESSION_ENDED


def test_a_revocation_ends_an_open_session_at_once(client, card_session, citizen):
    holder = citizen()
    token = card_session(holder)
    serial = _session_of(client, token).json["card_serial"]
    lifecycle.revoke(session(), serial, "keyCompromise")
    session().commit()
    answer = _session_of(client, token)
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.SESSION_ENDED


def test_a_suspension_ends_an_open_session_at_once(client, card_session, citizen):
    token = card_session(citizen())
    serial = _session_of(client, token).json["card_serial"]
    lifecycle.suspend(session(), serial)
    session().commit()
    assert _session_of(client, token).json["error"]["reason"] == Reason.SESSION_ENDED


def test_a_made_up_session_token_is_not_valid(client):
    answer = _session_of(client, "sks_" + "A" * 43)
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.TOKEN_INVALID


def test_a_card_session_cannot_ask_for_challenges(client, card_session, citizen):
    token = card_session(citizen())
    answer = client.post("/api/v1/auth/challenge", headers=bearer(token))
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.FORBIDDEN


def test_staff_cannot_ask_for_challenges(client, staff_token):
    answer = client.post("/api/v1/auth/challenge", headers=bearer(staff_token("admin")))
    assert answer.status_code == 403


def test_a_challenge_carries_256_random_bits_and_is_unique(client, terminal):
    from backend.testing.cards import ask_challenge

    kiosk = terminal("kiosk").token
    nonces = {ask_challenge(client, kiosk) for _ in range(5)}
    assert len({n[:32] for n in nonces}) == 5 and all(len(n) == 64 for n in nonces)


def test_asking_for_a_challenge_writes_nothing(client, terminal):
    from sqlalchemy import func

    from backend.cards.models import Challenge
    from backend.testing.cards import ask_challenge

    ask_challenge(client, terminal("kiosk").token)
    assert session().execute(select(func.count()).select_from(Challenge)).scalar() == 0


def test_an_authentication_is_audited_with_the_card_and_terminal(app, client, terminal,
                                                                 soft_card, citizen):
    holder = citizen()
    card = soft_card(holder)
    kiosk = terminal("kiosk")
    authenticate(client, kiosk.token, card, app.config["ORIGIN"], "9A")
    row = session().execute(select(AuditRecord).where(AuditRecord.action == "card.auth")
                            .order_by(AuditRecord.seq.desc()).limit(1)).scalar_one()
    assert (row.actor, row.terminal_id, row.citizen_id) == (card.serial, kiosk.terminal_id,
                                                            holder.id)


def test_a_refused_authentication_is_audited_with_its_reason(app, client, terminal, soft_card):
    card = soft_card()
    lifecycle.suspend(session(), card.serial)
    session().commit()
    authenticate(client, terminal("kiosk").token, card, app.config["ORIGIN"])
    row = session().execute(select(AuditRecord).order_by(AuditRecord.seq.desc())
                            .limit(1)).scalar_one()
    assert row.outcome == Reason.CARD_SUSPENDED


def test_a_spent_nonce_is_recorded_with_its_terminal_and_expiry(app, client, terminal,
                                                                 soft_card):
    from backend.cards.models import Challenge

    kiosk = terminal("kiosk")
    authenticate(client, kiosk.token, soft_card(), app.config["ORIGIN"])
    spent = session().execute(select(Challenge)).scalars().all()
    assert [(c.terminal_id, c.used_at is not None) for c in spent] == [(kiosk.terminal_id, True)]
    assert all(c.expires_at > c.used_at for c in spent)
