"""The load mix: citizens tapping at kiosks, agent shops redeeming food credit with the
PIN, clerks reading records. Run by bench/load/run_load.py (which seeds the city and
starts `satukartu serve`); SATUKARTU_LOAD_FIXTURE names the seeded city's file.

- kiosk: a tap (challenge, the card's 9E signature, token), the card holder's
  programmes and balances (GET /services), and the session ended;
- agent: a PIN session (9A signature), a basket redeemed with an Idempotency-Key, the
  session ended;
- clerk: a person's record read with a stated purpose (an audited read).

Cards sign exactly as a card does (the daemon's own wire module), so every request is
one the hub must fully check. Any answer other than the expected one is a failure.
"""

from __future__ import annotations

import base64
import json
import os
import random
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

from card_reader import wire

with open(os.environ["SATUKARTU_LOAD_FIXTURE"], encoding="utf-8") as _handle:
    FIXTURE = json.load(_handle)
ORIGIN = FIXTURE["origin"]
ECDSA = ec.ECDSA(Prehashed(hashes.SHA256()))
BASKET = {"items": [{"name": "Beras 1 kg", "category": "rice", "quantity": 1,
                     "unit_price": 12_500}], "amount": 12_500}


class Card:
    def __init__(self, data: dict[str, Any]) -> None:
        self.citizen_id = data["citizen_id"]
        self.certs = {ref: base64.b64decode(data[f"cert_{ref}"]) for ref in ("9A", "9E")}
        self.keys = {ref: serialization.load_pem_private_key(data[f"key_{ref}"].encode(), None)
                     for ref in ("9A", "9E")}

    def token(self, nonce: bytes, key_ref: str) -> dict[str, Any]:
        signature = self.keys[key_ref].sign(wire.signed_digest(ORIGIN, nonce), ECDSA)
        return wire.CardToken(certificate=self.certs[key_ref], signature=signature,
                              key_ref=key_ref, nonce=nonce).to_dict()


CARDS = [Card(data) for data in FIXTURE["cards"]]


def _expect(response: Any, status: int) -> Any:
    if response.status_code != status:
        response.failure(f"{response.status_code} {response.text[:200]}")
        return None
    return response.json() if response.text else {}


class TerminalUser(FastHttpUser):
    """A terminal of one kind, signed in with its client credentials."""

    abstract = True
    kind = "kiosk"
    key_ref = "9E"

    def on_start(self) -> None:
        client_id, secret = random.choice(FIXTURE["terminals"][self.kind])
        self.credentials = (client_id, secret)
        self.sign_in()

    def sign_in(self) -> None:
        with self.client.post(wire.PATH_TERMINAL_TOKEN, catch_response=True,
                              data=f"grant_type=client_credentials&scope={self.kind}",
                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "Authorization": _basic(*self.credentials)}) as answer:
            body = _expect(answer, 200)
        self.auth = {"Authorization": f"Bearer {body['access_token']}"} if body else {}

    def card_session(self, card: Card) -> dict[str, str] | None:
        """Challenge, signature, token: the daemon's exchange; the session's header."""
        with self.client.post(wire.PATH_CHALLENGE, headers=self.auth,
                              catch_response=True) as answer:
            body = _expect(answer, 200)
        if body is None:
            return None
        nonce = wire.Challenge.from_dict(body).nonce
        with self.client.post(wire.PATH_CARD_TOKEN, json=card.token(nonce, self.key_ref),
                              headers=self.auth, catch_response=True,
                              name=f"{wire.PATH_CARD_TOKEN} [{self.key_ref}]") as answer:
            body = _expect(answer, 200)
        return {"Authorization": f"Bearer {body['session_token']}"} if body else None

    def end(self, session: dict[str, str]) -> None:
        with self.client.post(wire.PATH_LOGOUT, headers=session, catch_response=True) as answer:
            _expect(answer, 204)


class Kiosk(TerminalUser):
    """A citizen taps, looks at their programmes and balances, and walks away."""

    weight = 5
    wait_time = between(0.05, 0.3)
    kind, key_ref = "kiosk", "9E"

    @task
    def tap_and_check(self) -> None:
        card = random.choice(CARDS)
        session = self.card_session(card)
        if session is None:
            return
        with self.client.get("/api/v1/services", headers=session,
                             catch_response=True) as answer:
            body = _expect(answer, 200)
            if body is not None and body["citizen_id"] != card.citizen_id:
                answer.failure("another citizen's programmes")
        self.end(session)


class AgentShop(TerminalUser):
    """A customer pays for a basket with the card and PIN."""

    weight = 3
    wait_time = between(0.05, 0.3)
    kind, key_ref = "agent", "9A"

    @task
    def redeem(self) -> None:
        session = self.card_session(random.choice(CARDS))
        if session is None:
            return
        with self.client.post("/api/v1/services/food/redeem", json=BASKET,
                              headers={**session, "Idempotency-Key": str(uuid.uuid4())},
                              catch_response=True) as answer:
            _expect(answer, 200)
        self.end(session)


class Clerk(FastHttpUser):
    """A clerk at a counter reads a person's record, stating why."""

    weight = 2
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        username, password = random.choice(FIXTURE["clerks"])
        with self.client.post("/api/v1/auth/staff/login", catch_response=True,
                              json={"username": username, "password": password}) as answer:
            body = _expect(answer, 200)
        self.auth = {"Authorization": f"Bearer {body['access_token']}"} if body else {}

    @task
    def read_record(self) -> None:
        citizen = random.randint(1, FIXTURE["citizens"])
        with self.client.get(f"/api/v1/citizens/{citizen}", headers=self.auth,
                             params={"purpose": "serve the person at the counter"},
                             name="/api/v1/citizens/<id>", catch_response=True) as answer:
            _expect(answer, 200)


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
