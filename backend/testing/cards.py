"""Card fixtures: a test issuing CA, software cards, and real card sessions.

A "soft card" holds real P-256 keys in memory and certificates made by the hub's own
CA code (`backend.cards.ca`, `certificates`), so what it signs goes through exactly
the checks a physical card's signature does. Tests craft every refusal with it:
another CA, dates out of range, the wrong policy or usage, a card in any state.

    def test_something(card_session, citizen, client):
        token = card_session(citizen(), assurance="pin", terminal_kind="counter")
        client.get("/api/v1/auth/session", headers={"Authorization": f"Bearer {token}"})
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from flask import Flask
from flask.testing import FlaskClient

from backend.cards import ca as ca_module
from backend.cards import lifecycle
from backend.cards.certificates import DEFAULT_PROFILE, CardIdentity, Profile, certify
from backend.cards.context import state
from backend.db import session
from card_reader import wire

KEY_REFS = ("9A", "9E")
KEY_BY_ASSURANCE = {"pin": "9A", "tap": "9E"}


@dataclass
class SoftCard:
    """A card in memory: two keys, their certificates, and (once recorded) its row."""

    serial: str
    card_uuid: uuid.UUID
    national_number: str
    citizen_id: int | None
    keys: dict[str, ec.EllipticCurvePrivateKey]
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)

    def der(self, key_ref: str) -> bytes:
        return self.certificates[key_ref].public_bytes(serialization.Encoding.DER)

    def sign(self, key_ref: str, origin: str, nonce: bytes) -> bytes:
        """What the card's GENERAL AUTHENTICATE returns for this challenge."""
        return self.keys[key_ref].sign(wire.signed_digest(origin, nonce),
                                       ec.ECDSA(Prehashed(hashes.SHA256())))

    def token(self, nonce: bytes, origin: str, key_ref: str = "9E", **override: Any
              ) -> dict[str, Any]:
        """The token dict the daemon would send; `override` replaces any wire field."""
        made = wire.CardToken(certificate=self.der(key_ref),
                              signature=self.sign(key_ref, origin, nonce),
                              key_ref=key_ref, nonce=nonce).to_dict()
        made.update(override)
        return made


def make_soft_card(ca: ca_module.IssuingCA, national_number: str, citizen_id: int | None, *,
                   not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
                   profiles: dict[str, Profile] | None = None,
                   expires_at: dt.datetime | None = None) -> SoftCard:
    """Keys and certificates for a card (not recorded: see `record_soft_card`)."""
    expires = expires_at or dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    card = SoftCard(serial=lifecycle.new_serial(), card_uuid=uuid.uuid4(),
                    national_number=national_number, citizen_id=citizen_id,
                    keys={ref: ec.generate_private_key(ec.SECP256R1()) for ref in KEY_REFS})
    ident = CardIdentity(national_number, card.card_uuid, card.serial, expires)
    for ref in KEY_REFS:
        profile = (profiles or {}).get(ref, DEFAULT_PROFILE)
        card.certificates[ref] = certify(ca, card.keys[ref].public_key(), ref, ident,
                                         not_before=not_before, not_after=not_after,
                                         profile=profile)
    return card


def record_soft_card(card: SoftCard, old_reason: str = "superseded") -> None:
    """Record the card as issued (retiring the citizen's previous card) and commit."""
    assert card.citizen_id is not None
    expires = min(c.not_valid_after_utc for c in card.certificates.values())
    lifecycle.record_issued(session(), lifecycle.NewCard(
        citizen_id=card.citizen_id, serial=card.serial, card_uuid=card.card_uuid,
        certificates=dict(card.certificates), expires_at=expires), old_reason=old_reason)
    session().commit()


@pytest.fixture
def card_ca(app: Flask) -> ca_module.IssuingCA:
    """The hub's issuing CA, made by `ca.init_ca` in the test's instance folder."""
    issuing = ca_module.init_ca(app.config["CA_DIR"], "Kota Uji")
    state(app).reload()
    return issuing


@pytest.fixture
def foreign_ca(tmp_path: Path) -> ca_module.IssuingCA:
    """A CA the hub does not trust: same code, another city's keys."""
    return ca_module.init_ca(tmp_path / "foreign-ca", "Kota Lain")


@pytest.fixture
def soft_card(app: Flask, card_ca: ca_module.IssuingCA, citizen: Callable) -> Callable:
    """Factory: `soft_card(holder=None, record=True, ca=None, not_before=, not_after=,
    profiles={"9A": Profile(...)})` -> a SoftCard (recorded as the holder's active card)."""

    def make(holder: Any = None, *, record: bool = True, ca: ca_module.IssuingCA | None = None,
             **options: Any) -> SoftCard:
        person = holder if holder is not None else citizen()
        card = make_soft_card(ca or card_ca, person.national_number, person.id, **options)
        if record:
            record_soft_card(card)
        return card

    return make


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ask_challenge(client: FlaskClient, terminal_token: str) -> bytes:
    answer = client.post(wire.PATH_CHALLENGE, headers=_bearer(terminal_token))
    assert answer.status_code == 200, answer.json
    return wire.Challenge.from_dict(answer.json).nonce


def present_token(client: FlaskClient, terminal_token: str, token: dict[str, Any] | bytes
                  ) -> Any:
    """POST a token (a dict, or raw bytes for malformed ones) to the token endpoint."""
    if isinstance(token, bytes):
        return client.post(wire.PATH_CARD_TOKEN, data=token, headers={
            **_bearer(terminal_token), "Content-Type": "application/json"})
    return client.post(wire.PATH_CARD_TOKEN, json=token, headers=_bearer(terminal_token))


def authenticate(client: FlaskClient, terminal_token: str, card: SoftCard, origin: str,
                 key_ref: str = "9E") -> Any:
    """Challenge, sign, token: the daemon's whole exchange; returns the token response."""
    nonce = ask_challenge(client, terminal_token)
    return present_token(client, terminal_token, card.token(nonce, origin, key_ref))


def _terminal_token(made: Any) -> str:
    return made.token if hasattr(made, "token") else made[3]


@pytest.fixture
def card_session(app: Flask, client: FlaskClient, soft_card: Callable,
                 terminal: Callable) -> Callable[..., str]:
    """Factory: `card_session(citizen, assurance="pin", terminal_kind="kiosk")` -> the
    bearer token of a real card session (real certificate, signature and token endpoint)."""
    cards: dict[int, SoftCard] = {}

    def make(holder: Any, assurance: str = "pin", terminal_kind: str = "kiosk") -> str:
        card = cards.get(holder.id)
        if card is None:
            card = cards[holder.id] = soft_card(holder)
        answer = authenticate(client, _terminal_token(terminal(terminal_kind)), card,
                              app.config["ORIGIN"], KEY_BY_ASSURANCE[assurance])
        assert answer.status_code == 200, answer.json
        return answer.json["session_token"]

    return make
