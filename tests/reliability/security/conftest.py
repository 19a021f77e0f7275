"""A small city for the hostile-input and access tests: every kind of caller, and objects
that belong to two different citizens.

Everything is made through the real code paths (registry rows, the ledger, card sessions
through the challenge and token endpoints, service actions through the API) in the test's
database, rolled back after the test.

Callers are named `anonymous`, `staff:<role>`, `terminal:<kind>` and
`card:<kind>:<assurance>` (a card session of Ani's at that terminal kind).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient

from backend.auth.principal import STAFF_ROLES, TERMINAL_KINDS
from backend.db import session
from backend.registry.models import SchoolEnrolment
from backend.testing.cards import KEY_BY_ASSURANCE, authenticate
from backend.testing.identity import StaffCredentials, TerminalCredentials, bearer

ASSURANCES = ("tap", "pin")
LOGIN_PASSWORD = "kopi tubruk di pasar minggu"  # a test account's password
BASKET = {"items": [{"name": "Beras 5 kg", "category": "rice", "quantity": 1,
                     "unit_price": 68_000}], "amount": 68_000}


@dataclass
class Person:
    """A citizen with a household, an active card, a receipt and an issued document."""

    citizen: Any
    household: Any
    sessions: dict[str, str] = field(default_factory=dict)  # "kiosk:pin" -> bearer token
    receipt: int | None = None  # journal entry id of a redemption
    document: str | None = None  # public id of a domicile letter

    @property
    def id(self) -> int:
        return self.citizen.id


@dataclass
class World:
    ani: Person
    budi: Person
    spare: Any  # a citizen nobody acts as: the target of writes
    enrolment_id: int
    terminals: dict[str, TerminalCredentials]
    staff: dict[str, StaffCredentials]
    spare_staff: str
    spare_terminal: str
    spare_card: str
    ani_card: Any  # Ani's SoftCard, to open more sessions
    login: tuple[str, str]  # a clerk's username and password
    day: str = field(default_factory=lambda: date.today().isoformat())

    def callers(self) -> dict[str, str | None]:
        """Caller name -> bearer token (None for anonymous)."""
        found: dict[str, str | None] = {"anonymous": None}
        found.update({f"staff:{role}": self.staff[role].token for role in STAFF_ROLES})
        found.update({f"terminal:{kind}": self.terminals[kind].token
                      for kind in TERMINAL_KINDS})
        found.update({f"card:{key}": token for key, token in self.ani.sessions.items()})
        return found


def caller_kind(name: str) -> tuple[str, str | None, str | None]:
    """`card:kiosk:pin` -> ("card", "kiosk", "pin"); `staff:clerk` -> ("staff", "clerk", None)."""
    parts = name.split(":")
    return parts[0], parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None


def headers_for(token: str | None) -> dict[str, str]:
    return bearer(token) if token else {}


def _redeem(client: FlaskClient, token: str) -> int:
    answer = client.post("/api/v1/services/food/redeem", json=BASKET, headers={
        **bearer(token), "Idempotency-Key": f"world-{uuid.uuid4()}"})
    assert answer.status_code == 200, answer.json
    return answer.json["receipt"]


def _domicile_letter(client: FlaskClient, token: str) -> str:
    answer = client.post("/api/v1/services/civil_documents/domicile_letter",
                         json={"purpose": "pendaftaran sekolah"},
                         headers={**bearer(token), "Idempotency-Key": f"world-{uuid.uuid4()}"})
    assert answer.status_code == 200, answer.json
    return answer.json["document"]["public_id"]


def open_session(app, client: FlaskClient, card: Any, at: TerminalCredentials,
                 assurance: str) -> str:
    """A real card session: challenge, the card's signature, the token endpoint."""
    answer = authenticate(client, at.token, card, app.config["ORIGIN"],
                          KEY_BY_ASSURANCE[assurance])
    assert answer.status_code == 200, answer.json
    return answer.json["session_token"]


@pytest.fixture
def world(app, client, card_ca, citizen, household, fund, enrol, insured, staff_account,
          terminal, soft_card) -> World:
    """Ani and Budi (each head of a poor household, food credit, a card, a receipt and a
    document), a spare citizen, staff of every role and a terminal of every kind."""
    app.config["SESSION_TTL"] = 3600  # sessions outlive a slow run on a busy machine
    terminals = {kind: terminal(kind) for kind in TERMINAL_KINDS}
    people, cards = [], []
    for name, sex in (("Ani Lestari", "F"), ("Budi Hartono", "M")):
        person = citizen(full_name=name, sex=sex)
        family = household(head=person, welfare_decile=1)
        fund("food", "groceries", family, 1_000_000)
        fund("family_hope", "cash", family, 1_000_000)
        for key, purse in (("education", "stipend"), ("elderly", "allowance"),
                           ("transport", "transit")):
            fund(key, purse, person, 1_000_000)
        people.append(Person(person, family))
        cards.append(soft_card(person))
    ani, budi = people
    for kind in TERMINAL_KINDS:
        for assurance in ASSURANCES:
            ani.sessions[f"{kind}:{assurance}"] = open_session(
                app, client, cards[0], terminals[kind], assurance)
    for kind in ("kiosk", "agent"):
        budi.sessions[f"{kind}:pin"] = open_session(app, client, cards[1], terminals[kind],
                                                    "pin")
    for person in people:
        person.receipt = _redeem(client, person.sessions["agent:pin"])
        person.document = _domicile_letter(client, person.sessions["kiosk:pin"])
    enrol(ani.citizen)
    insured(ani.citizen)
    enrolment_id = session().query(SchoolEnrolment.id).filter_by(
        citizen_id=ani.id).scalar()
    spare = citizen(full_name="Sari Wulandari")
    return World(ani=ani, budi=budi, spare=spare, enrolment_id=enrolment_id,
                 terminals=terminals,
                 staff={role: staff_account(role) for role in STAFF_ROLES},
                 spare_staff=staff_account("clerk").username,
                 spare_terminal=terminal("kiosk").terminal_id,
                 spare_card=soft_card(spare).serial, ani_card=cards[0],
                 login=(staff_account("clerk", password=LOGIN_PASSWORD).username,
                        LOGIN_PASSWORD))


@pytest.fixture
def callers(world: World) -> dict[str, str | None]:
    return world.callers()
