"""What an agent's daemon keeps to redeem without the hub: `offline_wire.Bundle`.

The city's root and the issuing CAs the hub trusts (the daemon checks a card's chain as
the hub does), the issuing CA's latest signed CRL (published now if none was yet, as the
`/crl` route does), the grace past its nextUpdate, the city's time zone (caps count its
days), the purses this terminal may redeem offline, the hub's origin (what the card
signs), and the highest counter the hub has from this terminal (a daemon whose queue
was lost starts above it). Which CRL the terminal was given, and when, is noted
(`OfflineCrlServed`): the hub judges the redemptions it later syncs by it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.cards import ca as ca_files
from backend.cards import crl, lifecycle
from backend.cards.context import state
from backend.cards.store import utcnow
from backend.db import dialect_insert
from backend.errors import ApiError
from backend.identity.models import Terminal
from backend.offline.models import OfflineCrlServed, OfflineRedemptionRow
from backend.offline.programmes import offline_programmes
from backend.reasons import Reason
from backend.services import ServiceModule
from card_reader.offline_wire import Bundle, OfflineProgramme

ROWS = OfflineRedemptionRow.__table__
SERVED = OfflineCrlServed.__table__


def terminal_category(sess: Session, terminal_id: str) -> str | None:
    return sess.execute(select(Terminal.category).where(Terminal.id == terminal_id)).scalar()


def redeems_here(terms: OfflineProgramme, module: ServiceModule, category: str | None) -> bool:
    """A purse whose rule names the agent shops that redeem it is not offered to others."""
    rule = module.purses[terms.purse]
    return rule.agent_categories is None or category in rule.agent_categories


def highest_counter(sess: Session, terminal_id: str) -> int:
    return int(sess.execute(select(func.coalesce(func.max(ROWS.c.counter), 0))
                            .where(ROWS.c.terminal_id == terminal_id)).scalar_one())


def _pem(path: Path) -> str:
    return path.read_text()


def certificates(config: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The root and the trusted issuing CAs, PEM; refused when the CA is not set up."""
    root = Path(config["CA_DIR"]) / ca_files.ROOT_CERT
    trust = state().trust_store()
    if not root.exists() or not trust:
        raise ApiError(Reason.SERVICE_UNAVAILABLE, "the city's CA is not set up", 503)
    issuers = tuple(cert.public_bytes(serialization.Encoding.PEM).decode()
                    for cert in trust.issuers.values())
    return (_pem(root),), issuers


def build(sess: Session, terminal_id: str, modules: dict[str, ServiceModule]) -> Bundle:
    config = current_app.config
    roots, issuers = certificates(config)
    latest = crl.latest(sess)
    if latest is None:
        latest = crl.publish(sess, lifecycle.issuing_ca(), config["CRL_VALIDITY_HOURS"],
                             note="first request")
    note_served(sess, terminal_id, latest.number)
    category = terminal_category(sess, terminal_id)
    programmes = tuple(terms for terms in offline_programmes(modules.values())
                       if redeems_here(terms, modules[terms.programme], category))
    return Bundle(terminal=terminal_id, origin=config["ORIGIN"],
                  timezone=config["CITY_TIMEZONE"], roots=roots, issuers=issuers,
                  crl=latest.der, crl_grace_hours=config["OFFLINE_CRL_GRACE_HOURS"],
                  programmes=programmes, counter=highest_counter(sess, terminal_id))


def note_served(sess: Session, terminal_id: str, number: int) -> None:
    """The first time this terminal is given CRL `number` (a later fetch keeps it)."""
    sess.execute(dialect_insert(sess)(SERVED).values(
        terminal_id=terminal_id, crl_number=number, first_served_at=utcnow())
        .on_conflict_do_nothing())
