"""Fixtures for two-person approval and bulk jobs: admins, many cards, committing hubs."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Connection, insert, select

from backend import migrations
from backend.app import create_app
from backend.auth.principal import Principal
from backend.cards import ca
from backend.cards.context import state
from backend.cards.lifecycle import new_serial
from backend.cards.models import Card
from backend.db import database
from backend.registry.models import Citizen
from backend.testing.identity import StaffCredentials, make_staff
from backend.testing.registry import DEFAULT_REGION


def as_principal(account: StaffCredentials | str, role: str = "admin") -> Principal:
    """The Principal the API would resolve for this staff account."""
    username = account if isinstance(account, str) else account.username
    return Principal(kind="staff", subject=username, role=role)


def insert_cards(conn: Connection, count: int, status: str = "active") -> list[str]:
    """`count` citizens each with a card in `status`, written set-based; their serials."""
    tag = uuid.uuid4().hex[:8]
    conn.execute(insert(Citizen.__table__), [
        {"national_number": f"T{tag}{n:08d}", "full_name": f"Warga Uji {n}",
         "name_search": f"warga uji {n}", "birth_date": dt.date(1980, 1, 1), "sex": "F",
         "address": "", "region_code": DEFAULT_REGION, "language": "id"}
        for n in range(count)])
    ids = conn.execute(select(Citizen.id).where(Citizen.national_number.like(f"T{tag}%"))
                       .order_by(Citizen.national_number)).scalars().all()
    now = dt.datetime.now(dt.UTC)
    rows = [{"serial": new_serial(), "card_uuid": str(uuid.uuid4()), "citizen_id": citizen_id,
             "status": status, "issued_at": now, "expires_at": now + dt.timedelta(days=365),
             "status_changed_at": now if status != "active" else None,
             "revocation_reason": "keyCompromise" if status == "revoked" else None,
             "cert_9a_sha256": secrets.token_hex(32), "cert_9e_sha256": secrets.token_hex(32),
             "cert_9a_serial": secrets.token_hex(16), "cert_9e_serial": secrets.token_hex(16),
             "tap_locked": False}
            for citizen_id in ids]
    conn.execute(insert(Card.__table__), rows)
    return [row["serial"] for row in rows]


@pytest.fixture
def admins(app: Flask) -> tuple[StaffCredentials, StaffCredentials, StaffCredentials]:
    """Three admin accounts (a maker and two possible checkers), with tokens."""
    return make_staff(app, "admin"), make_staff(app, "admin"), make_staff(app, "admin")


@pytest.fixture
def many_cards(app: Flask, card_ca: ca.IssuingCA) -> Callable[..., list[str]]:
    """`many_cards(n, status="active")` -> serials of n fresh cards (committed)."""
    from backend.db import session

    def make(count: int, status: str = "active") -> list[str]:
        serials = insert_cards(session().connection(), count, status)
        session().commit()
        return serials

    return make


def _committing(url: str, instance_dir: Path) -> Flask:
    application = create_app(DATABASE_URL=url, INSTANCE_DIR=str(instance_dir),
                             SECRET_KEY="test-secret-key-not-for-production",
                             ORIGIN="https://hub.test.satukartu", LOG_LEVEL="WARNING")
    ca.init_ca(application.config["CA_DIR"], "Kota Uji")
    state(application).reload()
    return application


@pytest.fixture(params=["sqlite", "postgresql"])
def city(request: pytest.FixtureRequest, tmp_path: Path, instance_dir: Path) -> Iterator[Flask]:
    """A hub with an issuing CA whose commits are real (for workers and the console),
    on a fresh SQLite file or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'city.db'}"
        migrations.upgrade(url)
    else:
        url = request.getfixturevalue("fresh_pg_url")
    application = _committing(url, instance_dir)
    with application.app_context():
        yield application
    application.extensions["satukartu.db"].engine.dispose()


def commit_cards(count: int, status: str = "active") -> list[str]:
    """`insert_cards` on the current app's database, committed."""
    with database().transaction() as tx:
        return insert_cards(tx.connection(), count, status)
