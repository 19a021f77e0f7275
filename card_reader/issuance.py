"""Personalising a blank card: the card-side half of `satukartu card issue`.

The hub decides what goes on the card (PIN, keys' certificates, card UUID); this
module only knows the order of PIV commands, so the hub's CLI, the demo and the
test fixtures personalise cards the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from card_reader.client import PivSession
from card_reader.piv import DEFAULT_MANAGEMENT_KEY, Algorithm, Slot

ISSUED_SLOTS = (Slot.AUTHENTICATION, Slot.CARD_AUTH)

# Given the slot, its new public key and the card UUID, return the DER certificate.
Certifier = Callable[[Slot, ec.EllipticCurvePublicKey, uuid.UUID], bytes]


@dataclass(frozen=True)
class IssuedCard:
    card_uuid: uuid.UUID
    public_keys: dict[Slot, ec.EllipticCurvePublicKey]
    certificates: dict[Slot, bytes]


def personalise(session: PivSession, *, certify: Certifier, pin: str, puk: str,
                management_key: bytes, card_uuid: uuid.UUID | None = None,
                current_management_key: bytes = DEFAULT_MANAGEMENT_KEY,
                current_algorithm: Algorithm = Algorithm.TDES,
                algorithm: Algorithm = Algorithm.AES128,
                current_pin: str = "123456", current_puk: str = "12345678",
                pin_retries: int | None = None) -> IssuedCard:
    """Keys made on the card, certified, written back; PIN, PUK and 9B key replaced."""
    card_uuid = card_uuid or uuid.uuid4()
    session.select()
    session.authenticate(current_management_key, current_algorithm)
    if pin_retries is not None:
        session.set_pin_retries(pin_retries, pin_retries)
    keys: dict[Slot, ec.EllipticCurvePublicKey] = {}
    certs: dict[Slot, bytes] = {}
    for slot in ISSUED_SLOTS:
        keys[slot] = session.generate_key(slot)
        certs[slot] = certify(slot, keys[slot], card_uuid)
        session.put_certificate(slot, certs[slot])
    session.put_chuid(card_uuid)
    session.set_management_key(management_key, algorithm)
    session.change_pin(current_pin, pin)
    session.change_puk(current_puk, puk)
    session.logout()
    return IssuedCard(card_uuid, keys, certs)
