"""Offline redemptions as an agent's daemon signs and syncs them: soft cards (real P-256
keys, certificates from the test CA), a CRL published by the hub, a funded household."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from backend.cards import crl
from backend.cards.models import PublishedCrl
from backend.db import session
from backend.offline.models import OfflineCrlServed
from backend.testing.cards import SoftCard
from backend.testing.identity import bearer
from card_reader.offline_wire import (
    PATH_OFFLINE_REDEMPTIONS,
    OfflineRedemption,
    SignedRedemption,
)


def now_seconds() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Agent:
    terminal_id: str
    token: str


@pytest.fixture
def agent(terminal: Callable) -> Agent:
    made = terminal("agent")
    return Agent(made.terminal_id, made.token)


@pytest.fixture
def published_crl(app: Flask, card_ca: Any) -> Callable[..., int]:
    """Factory: publish a CRL (valid 24 h from `at`, default a minute ago); its number."""

    def publish(at: dt.datetime | None = None) -> int:
        row = crl.publish(session(), card_ca, 24,
                          now=at or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        session().commit()
        return row.number

    return publish


@pytest.fixture
def family(citizen: Callable, household: Callable, fund: Callable,
           soft_card: Callable) -> Callable[..., tuple[Any, SoftCard]]:
    """Factory: a household funded with `balance` groceries credit, and its head's card."""

    def make(balance: int = 100_000) -> tuple[Any, SoftCard]:
        head = citizen()
        home = household(head=head, welfare_decile=2)
        if balance:
            fund("food", "groceries", home, balance)
        return home, soft_card(head)

    return make


def signed(card: SoftCard, origin: str, terminal_id: str, counter: int, crl_number: int,
           *, amount: int = 25_000, redeemed_at: dt.datetime | None = None,
           key: str | None = None, sign_with: ec.EllipticCurvePrivateKey | None = None,
           **fields: Any) -> dict[str, Any]:
    """A redemption as the card signs it with key 9A and the daemon queues it."""
    values: dict[str, Any] = {
        "key": key or uuid.uuid4().hex, "terminal": terminal_id, "counter": counter,
        "programme": "food", "purse": "groceries", "amount": amount, "category": "rice",
        "redeemed_at": stamp(redeemed_at or now_seconds() + dt.timedelta(seconds=1)),
        "card_serial": f"{card.certificates['9A'].serial_number:x}",
        "crl_number": crl_number}
    values.update(fields)
    redemption = OfflineRedemption(**values)
    signature = (sign_with or card.keys["9A"]).sign(redemption.digest(origin),
                                                    ec.ECDSA(Prehashed(hashes.SHA256())))
    return SignedRedemption(redemption, card.der("9A"), signature).to_dict()


def given_crl(agent: Agent, number: int, at: dt.datetime) -> None:
    """As if the agent's daemon had fetched its bundle with CRL `number` at `at`."""
    session().execute(insert(OfflineCrlServed.__table__).values(
        terminal_id=agent.terminal_id, crl_number=number, first_served_at=at)
        .prefix_with("OR IGNORE", dialect="sqlite"))
    session().commit()


def _given_what_they_name(agent: Agent, items: list[Any]) -> None:
    """Each CRL the items name, given to the agent a minute before the first of them
    (a daemon judges cards by the CRL its last bundle brought)."""
    first: dict[int, dt.datetime] = {}
    for item in items:
        red = item.get("redemption") if isinstance(item, dict) else None
        try:
            number = int(red["crl_number"])
            at = dt.datetime.strptime(red["redeemed_at"], "%Y-%m-%dT%H:%M:%SZ")
        except (TypeError, KeyError, ValueError):
            continue
        at = at.replace(tzinfo=dt.UTC) - dt.timedelta(minutes=1)
        first[number] = min(at, first.get(number, at))
    known = set(session().execute(select(PublishedCrl.number)).scalars())
    for number, at in first.items():
        if number in known and session().get(OfflineCrlServed,
                                             (agent.terminal_id, number)) is None:
            given_crl(agent, number, at)


@pytest.fixture
def sync(client: FlaskClient) -> Callable[..., Any]:
    """POST a batch for an agent; the response. With `given` (the default), the agent is
    first given the CRLs its items name, as its bundle would have brought them."""

    def send(agent: Agent, items: list[dict[str, Any]] | Any, given: bool = True) -> Any:
        if given and isinstance(items, list):
            _given_what_they_name(agent, items)
        body = items if not isinstance(items, list) else {"redemptions": items}
        return client.post(PATH_OFFLINE_REDEMPTIONS, json=body, headers=bearer(agent.token))

    return send
