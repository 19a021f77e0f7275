"""Issuing a card: the hub's half of `satukartu card issue` (the card's half is
`card_reader.issuance.personalise`).

The hub decides the serial, the card UUID, the PIN and PUK, the card's own 9B key and
its expiry; the card makes its keys; the issuing CA certifies them; only once the card
holds its certificates is it recorded (retiring the citizen's previous card), so a
card pulled out half-way is never an active card in the registry.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.cards import lifecycle
from backend.cards.ca import IssuingCA, card_management_key
from backend.cards.certificates import CardIdentity, certify
from backend.cards.models import LIVE_STATUSES, Card
from backend.registry.models import Citizen
from card_reader.client import PivSession
from card_reader.issuance import personalise
from card_reader.piv import Slot, pin_is_valid

KEY_REF_BY_SLOT = {Slot.AUTHENTICATION: "9A", Slot.CARD_AUTH: "9E"}


class IssuanceError(Exception):
    """Issuance cannot go ahead (unknown or deceased citizen, bad PIN, ...)."""


@dataclass(frozen=True)
class Issued:
    """What the operator is told once: the serial, and the PIN if the hub chose it."""

    serial: str
    card_uuid: str
    citizen_number: str
    expires_at: dt.datetime
    pin: str | None  # None when the citizen chose it
    puk: str
    replaced: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "card_uuid": self.card_uuid,
                "citizen": self.citizen_number, "expires_at": self.expires_at.isoformat(),
                "pin": self.pin, "puk": self.puk, "replaced": self.replaced}


def random_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def find_citizen(db: Session, national_number: str) -> Citizen:
    person = db.execute(select(Citizen).where(
        Citizen.national_number == national_number.strip())).scalar_one_or_none()
    if person is None:
        raise IssuanceError(f"no citizen with national number {national_number}")
    if person.died_on is not None:
        raise IssuanceError(f"citizen {national_number} is recorded as deceased")
    return person


def _certifier(ca: IssuingCA, ident: CardIdentity, made: dict[str, Any]) -> Any:
    def certify_slot(slot: Slot, public_key: ec.EllipticCurvePublicKey,
                     card_uuid: uuid.UUID) -> bytes:
        if card_uuid != ident.card_uuid:
            raise IssuanceError("the card reported another UUID than the one assigned")
        key_ref = KEY_REF_BY_SLOT[Slot(slot)]
        cert = certify(ca, public_key, key_ref, ident)
        made[key_ref] = cert
        return cert.public_bytes(serialization.Encoding.DER)

    return certify_slot


def issue(db: Session, piv: PivSession, *, ca: IssuingCA, settings: dict[str, Any],
          citizen_number: str, pin: str | None = None, old_reason: str = "superseded",
          principal: Principal | None = None) -> Issued:
    """Personalise the blank card on `piv` for the citizen and record it in `db`.

    The caller commits `db`; when personalisation fails nothing is recorded.
    """
    person = find_citizen(db, citizen_number)
    if pin is not None and not pin_is_valid(pin):
        raise IssuanceError("a PIN has 6 to 8 digits")
    chosen_pin, puk = pin or random_digits(6), random_digits(8)
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(
        days=settings["CARD_VALIDITY_DAYS"])
    ident = CardIdentity(person.national_number, uuid.uuid4(), lifecycle.new_serial(),
                         min(expires, ca.certificate.not_valid_after_utc))
    made: dict[str, Any] = {}
    personalise(piv, certify=_certifier(ca, ident, made), pin=chosen_pin, puk=puk,
                management_key=card_management_key(settings, str(ident.card_uuid)),
                card_uuid=ident.card_uuid, pin_retries=settings["PIN_MAX_TRIES"])
    previous = list(db.execute(select(Card.serial).where(
        Card.citizen_id == person.id, Card.status.in_(LIVE_STATUSES))).scalars())
    lifecycle.record_issued(db, lifecycle.NewCard(
        citizen_id=person.id, serial=ident.serial, card_uuid=ident.card_uuid,
        certificates=made, expires_at=ident.expires_at), old_reason=old_reason,
        principal=principal)
    return Issued(ident.serial, str(ident.card_uuid), person.national_number,
                  ident.expires_at, None if pin else chosen_pin, puk, previous)
