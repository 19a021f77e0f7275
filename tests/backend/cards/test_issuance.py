"""Issuance into a virtual card (its APDU engine in-process; through pcscd in the
end-to-end test): keys made on the card, certified, recorded, and they authenticate."""

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from sqlalchemy import select

from backend.cards import issuance, lifecycle
from backend.cards.models import Card
from backend.db import session
from backend.testing.cards import ask_challenge, present_token
from card_reader import wire
from card_reader.client import PivSession
from card_reader.piv import PivError, Slot
from card_reader.vcard import open_card


class EngineLink:
    """The virtual card's own APDU engine as a client connection (no PC/SC in between)."""

    def __init__(self, engine):
        self.engine = engine
        engine.power_on()

    def transmit(self, apdu: bytes) -> bytes:
        return self.engine.process(apdu)


@pytest.fixture
def blank(tmp_path):
    return PivSession(EngineLink(open_card(tmp_path / "card.json")))


def _issue(app, piv, holder, pin="135790"):
    issued = issuance.issue(session(), piv, ca=lifecycle.issuing_ca(),
                            settings=dict(app.config), citizen_number=holder.national_number,
                            pin=pin)
    session().commit()
    return issued


def test_an_issued_card_is_recorded_as_the_holders_active_card(app, card_ca, blank, citizen):
    holder = citizen()
    issued = _issue(app, blank, holder)
    card = session().execute(select(Card).where(Card.serial == issued.serial)).scalar_one()
    assert (card.citizen_id, card.status) == (holder.id, "active")


def test_the_card_holds_the_certificates_that_were_recorded(app, card_ca, blank, citizen):
    issued = _issue(app, blank, citizen())
    card = session().execute(select(Card).where(Card.serial == issued.serial)).scalar_one()
    for slot, recorded in ((Slot.AUTHENTICATION, card.cert_9a_sha256),
                           (Slot.CARD_AUTH, card.cert_9e_sha256)):
        assert hashlib.sha256(blank.read_certificate(slot)).hexdigest() == recorded
    assert str(blank.read_card_uuid()) == issued.card_uuid


def test_the_card_signs_with_its_tap_key_and_the_hub_opens_a_tap_session(app, client, card_ca,
                                                                         blank, citizen,
                                                                         terminal):
    _issue(app, blank, citizen())
    kiosk = terminal("kiosk").token
    nonce = ask_challenge(client, kiosk)
    signature = blank.sign_digest(Slot.CARD_AUTH, wire.signed_digest(app.config["ORIGIN"], nonce))
    token = wire.CardToken(blank.read_certificate(Slot.CARD_AUTH), signature, "9E", nonce)
    answer = present_token(client, kiosk, token.to_dict())
    assert answer.status_code == 200 and answer.json["assurance"] == "tap"


def test_the_pin_key_signs_only_after_the_chosen_pin(app, card_ca, blank, citizen):
    _issue(app, blank, citizen(), pin="246802")
    digest = hashlib.sha256(b"challenge").digest()
    with pytest.raises(PivError):
        blank.sign_digest(Slot.AUTHENTICATION, digest)
    blank.verify_pin("246802")
    signature = blank.sign_digest(Slot.AUTHENTICATION, digest)
    cert = x509.load_der_x509_certificate(blank.read_certificate(Slot.AUTHENTICATION))
    cert.public_key().verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def test_a_generated_pin_is_told_once_and_works(app, card_ca, blank, citizen):
    issued = issuance.issue(session(), blank, ca=lifecycle.issuing_ca(),
                            settings=dict(app.config),
                            citizen_number=citizen().national_number)
    assert issued.pin is not None and len(issued.pin) == 6
    blank.verify_pin(issued.pin)


def test_a_new_card_supersedes_the_citizens_previous_one(app, card_ca, tmp_path, citizen):
    holder = citizen()
    first = _issue(app, PivSession(EngineLink(open_card(tmp_path / "a.json"))), holder)
    second = _issue(app, PivSession(EngineLink(open_card(tmp_path / "b.json"))), holder)
    assert second.replaced == [first.serial]
    assert lifecycle.get_card(session(), first.serial).status == "superseded"


def test_a_card_that_is_not_blank_is_refused_and_nothing_is_recorded(app, card_ca, blank,
                                                                     citizen):
    _issue(app, blank, citizen())
    other = citizen()
    with pytest.raises(PivError):
        _issue(app, blank, other)
    session().rollback()
    assert session().execute(select(Card).where(Card.citizen_id == other.id)).first() is None


def test_a_deceased_citizen_gets_no_card(app, card_ca, blank, citizen):
    import datetime as dt

    holder = citizen(died_on=dt.date(2025, 1, 1))
    with pytest.raises(issuance.IssuanceError, match="deceased"):
        _issue(app, blank, holder)


def test_an_unknown_national_number_gets_no_card(app, card_ca, blank):
    with pytest.raises(issuance.IssuanceError, match="no citizen"):
        issuance.issue(session(), blank, ca=lifecycle.issuing_ca(), settings=dict(app.config),
                       citizen_number="0000000000000000")
