"""The card lifecycle through the admin API, and the CRL it publishes."""

import pytest
from cryptography import x509
from sqlalchemy.exc import IntegrityError

from backend.cards import lifecycle
from backend.cards.models import Card
from backend.db import session
from backend.reasons import Reason
from backend.testing.cards import authenticate
from backend.testing.identity import bearer


@pytest.fixture
def admin(staff_token):
    return bearer(staff_token("admin"))


def _act(client, admin, serial, action, **body):
    return client.post(f"/api/v1/cards/{serial}/{action}", json=body, headers=admin)


def _crl(client):
    answer = client.get("/api/v1/crl")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pkix-crl"
    return x509.load_der_x509_crl(answer.data)


def test_suspend_then_reinstate_lets_the_card_in_again(app, client, admin, terminal,
                                                       soft_card):
    card = soft_card()
    assert _act(client, admin, card.serial, "suspend").json["status"] == "suspended"
    assert _act(client, admin, card.serial, "reinstate").json["status"] == "active"
    answer = authenticate(client, terminal("kiosk").token, card, app.config["ORIGIN"])
    assert answer.status_code == 200


def test_revoking_records_the_rfc5280_reason(client, admin, soft_card):
    card = soft_card()
    answer = _act(client, admin, card.serial, "revoke", reason="cessationOfOperation")
    assert answer.json["status"] == "revoked"
    assert answer.json["revocation_reason"] == "cessationOfOperation"


def test_revoking_as_superseded_marks_the_card_superseded(client, admin, soft_card):
    card = soft_card()
    assert _act(client, admin, card.serial, "revoke",
                reason="superseded").json["status"] == "superseded"


def test_a_revocation_reason_outside_rfc5280_is_refused(client, admin, soft_card):
    answer = _act(client, admin, soft_card().serial, "revoke", reason="lost")
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED


def test_a_revoked_card_cannot_be_reinstated(client, admin, soft_card):
    card = soft_card()
    _act(client, admin, card.serial, "revoke", reason="keyCompromise")
    answer = _act(client, admin, card.serial, "reinstate")
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.CARD_STATE_INVALID


def test_an_active_card_cannot_be_reinstated(client, admin, soft_card):
    answer = _act(client, admin, soft_card().serial, "reinstate")
    assert answer.json["error"]["reason"] == Reason.CARD_STATE_INVALID


def test_an_unknown_serial_is_not_found(client, admin, card_ca):
    answer = _act(client, admin, "0000-0000-0000", "suspend")
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.NOT_FOUND


def test_only_admins_change_a_cards_state(client, staff_token, soft_card):
    answer = _act(client, bearer(staff_token("clerk")), soft_card().serial, "revoke",
                  reason="keyCompromise")
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ROLE_NOT_ALLOWED


def test_a_lifecycle_step_is_audited(client, admin, soft_card):
    from sqlalchemy import select

    from backend.audit.models import AuditRecord

    card = soft_card()
    _act(client, admin, card.serial, "revoke", reason="keyCompromise")
    row = session().execute(select(AuditRecord).where(AuditRecord.action == "card.revoke")
                            .order_by(AuditRecord.seq.desc()).limit(1)).scalar_one()
    assert (row.subject_id, row.actor_kind, row.citizen_id) == (card.serial, "staff",
                                                                card.citizen_id)


def test_a_citizens_cards_are_listed_newest_first(client, admin, soft_card, citizen):
    holder = citizen()
    old, new = soft_card(holder), soft_card(holder)
    listed = client.get(f"/api/v1/cards?citizen={holder.id}", headers=admin).json["cards"]
    assert [(c["serial"], c["status"]) for c in listed] == [(new.serial, "active"),
                                                          (old.serial, "superseded")]


def test_the_database_refuses_two_live_cards_for_one_citizen(soft_card, citizen):
    holder = citizen()
    first = soft_card(holder)
    soft_card(holder)
    row = session().query(Card).filter_by(serial=first.serial).one()
    row.status = "active"
    with pytest.raises(IntegrityError):
        session().flush()
    session().rollback()


def test_the_crl_is_signed_by_the_issuing_ca(client, card_ca, soft_card):
    soft_card()
    crl = _crl(client)
    assert crl.issuer == card_ca.certificate.subject
    assert crl.is_signature_valid(card_ca.key.public_key())


def test_the_crl_lists_both_certificates_of_a_revoked_card(client, admin, soft_card):
    card = soft_card()
    _act(client, admin, card.serial, "revoke", reason="keyCompromise")
    crl = _crl(client)
    for ref in ("9A", "9E"):
        entry = crl.get_revoked_certificate_by_serial_number(card.certificates[ref].serial_number)
        assert entry is not None
        assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
            x509.ReasonFlags.key_compromise


def test_a_suspended_card_is_on_hold_in_the_crl_until_reinstated(client, admin, soft_card):
    card = soft_card()
    serial_9e = card.certificates["9E"].serial_number
    _act(client, admin, card.serial, "suspend")
    entry = _crl(client).get_revoked_certificate_by_serial_number(serial_9e)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.certificate_hold
    _act(client, admin, card.serial, "reinstate")
    assert _crl(client).get_revoked_certificate_by_serial_number(serial_9e) is None


def test_every_new_crl_has_a_higher_number(client, admin, soft_card):
    first = _crl(client).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    _act(client, admin, soft_card().serial, "revoke", reason="keyCompromise")
    second = _crl(client).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert second > first


def test_pin_unblock_is_authorised_for_an_active_card(client, staff_token, soft_card):
    card = soft_card()
    answer = client.post(f"/api/v1/cards/{card.serial}/pin-unblock",
                         headers=bearer(staff_token("clerk")))
    assert answer.status_code == 200 and answer.json["authorised"]


def test_pin_unblock_is_refused_for_a_revoked_card(client, staff_token, soft_card):
    card = soft_card()
    lifecycle.revoke(session(), card.serial, "keyCompromise")
    session().commit()
    answer = client.post(f"/api/v1/cards/{card.serial}/pin-unblock",
                         headers=bearer(staff_token("clerk")))
    assert answer.json["error"]["reason"] == Reason.CARD_STATE_INVALID
