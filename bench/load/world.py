"""The city the load test runs against: a fresh PostgreSQL database, seeded in bulk.

Households come from the same set-based statements the scale tests use; cards are
soft cards (real P-256 keys) certified by the hub's own issuing CA and recorded as
issued; the food purse of every carded household is funded through the ledger;
kiosk and agent terminals and clerks are registered through the identity code. What
the load generator needs (terminal credentials, clerk passwords, card keys and
certificates) goes to a JSON file it reads; the hub's settings come back as env.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from backend import migrations
from backend.testing import databases

CLERK_PASSWORD = "beban uji " + secrets.token_hex(4)
FOOD_CREDIT = 50_000_000  # enough for every redemption a run of hours could make


def create_database() -> tuple[str, str]:
    """A fresh migrated PostgreSQL database: (name, url)."""
    name = databases.unique_name("sk_load")
    url = databases.create_pg_database(name)
    migrations.upgrade(url)
    return name, url


def drop_database(name: str) -> None:
    databases.drop_pg_database(name)


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def seed(db_url: str, instance: Path, origin: str, *, households: int, cards: int,
         kiosks: int, agents: int, clerks: int, out: Path) -> dict[str, str]:
    """Fill the database; write the load generator's file to `out`; return the hub's env."""
    from backend.app import create_app
    from backend.cards import ca, lifecycle
    from backend.db import database
    from backend.identity import accounts
    from backend.registry.models import Citizen
    from backend.services import Beneficiary
    from backend.services.catalogue import modules
    from backend.services.context import HubContext
    from backend.testing.cards import make_soft_card
    from backend.testing.services import synth_households_pg

    settings = {"DATABASE_URL": db_url, "INSTANCE_DIR": str(instance), "ORIGIN": origin,
                "SECRET_KEY": secrets.token_urlsafe(32), "LOG_LEVEL": "WARNING"}
    app = create_app(**settings)
    issuing = ca.init_ca(app.config["CA_DIR"], "Kota Beban")
    engine = app.extensions["satukartu.db"].engine
    with engine.begin() as conn:
        synth_households_pg(conn, households, deciles=4)  # deciles 1..4: all get food
    fixture: dict[str, Any] = {"origin": origin, "citizens": households, "cards": [],
                               "terminals": {"kiosk": [], "agent": []}, "clerks": []}
    with app.app_context(), database().transaction() as tx:
        numbers = dict(tx.execute(Citizen.__table__.select().with_only_columns(
            Citizen.id, Citizen.national_number).where(Citizen.id <= cards)).all())
        food = HubContext(tx, modules()["food"], None, None)
        for citizen_id, number in sorted(numbers.items()):
            card = make_soft_card(issuing, number, citizen_id)
            lifecycle.record_issued(tx, lifecycle.NewCard(
                citizen_id=citizen_id, serial=card.serial, card_uuid=card.card_uuid,
                certificates=dict(card.certificates),
                expires_at=min(c.not_valid_after_utc for c in card.certificates.values())))
            food.credit("groceries", FOOD_CREDIT,
                        beneficiary=Beneficiary("household", citizen_id))
            fixture["cards"].append({
                "citizen_id": citizen_id,
                **{f"cert_{ref}": base64.b64encode(card.der(ref)).decode() for ref in card.keys},
                **{f"key_{ref}": _pem(key) for ref, key in card.keys.items()}})
        for kind, count in (("kiosk", kiosks), ("agent", agents)):
            for n in range(count):
                row, secret = accounts.create_terminal(tx, kind=kind, name=f"load {kind} {n}")
                fixture["terminals"][kind].append([row.client_id, secret])
        for n in range(clerks):
            account = accounts.create_staff(tx, username=f"loadclerk{n}", role="clerk",
                                            password=CLERK_PASSWORD)
            fixture["clerks"].append([account.username, CLERK_PASSWORD])
    engine.dispose()
    out.write_text(json.dumps(fixture), encoding="utf-8")
    out.chmod(0o600)
    env = {f"SATUKARTU_{key}": value for key, value in settings.items()}
    env["SATUKARTU_SESSION_TTL"] = "600"
    return env
