"""Fixtures for service-module authors: funded accounts, allocations, action calls.

Importable by a third party's tests (add "backend.testing.services" to pytest_plugins):

    def test_redeem(call_service, card_session, household, citizen, fund):
        head = citizen()
        family = household(head=head, welfare_decile=2)
        fund("food", "groceries", family, 50_000)
        token = card_session(head, assurance="pin", terminal_kind="agent")
        answer = call_service(token, "food", "redeem", {"items": [...], "amount": 12_000})

Everything goes through the real ledger and the real API, in the test's database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from backend.db import database, session
from backend.ledger.allocation import Outcome, allocate
from backend.services import Beneficiary, HolderKind, Period, Posting
from backend.services.catalogue import modules
from backend.services.context import HubContext


def holder_of(thing: Any) -> Beneficiary:
    """A registry row (Citizen or Household) as the ledger's beneficiary."""
    kind: HolderKind = "household" if type(thing).__name__ == "Household" else "citizen"
    return Beneficiary(kind, thing.id)


def fund_account(key: str, purse: str, holder: Any, amount: int) -> Posting:
    """Credit `amount` to `holder`'s purse from the programme's funding, and commit."""
    module = modules()[key]
    ctx = HubContext(session(), module, None, None)
    posting = ctx.credit(purse, amount, beneficiary=holder_of(holder))
    session().commit()
    return posting


def run_allocations(key: str, period: str | None = None, today: date | None = None,
                    batch: int = 50_000) -> list[Outcome]:
    """Every allocation of module `key` for `period` (default: the one due today)."""
    module = modules()[key]
    done = []
    for allocation in module.allocations:
        due = Period.parse(period) if period else allocation.due_period(today or date.today())
        done.append(allocate(database(), module, allocation, due, batch=batch))
    return done


def ledger_totals() -> dict[str, int]:
    """What `satukartu ledger check` looks at: unbalanced entries, negative balances,
    balances that differ from their lines."""
    sess = session()
    unbalanced = sess.execute(text(
        "SELECT count(*) FROM (SELECT entry_id FROM journal_lines GROUP BY entry_id "
        "HAVING sum(amount) <> 0) u")).scalar_one()
    negative = sess.execute(text("SELECT count(*) FROM ledger_accounts WHERE balance < 0 "
                                 "AND NOT allow_negative")).scalar_one()
    drift = sess.execute(text(
        "SELECT count(*) FROM ledger_accounts a WHERE a.balance <> (SELECT "
        "coalesce(sum(l.amount), 0) FROM journal_lines l WHERE l.account_id = a.id)"
    )).scalar_one()
    return {"unbalanced": unbalanced, "negative": negative, "drift": drift}


LEDGER_TABLES = ("ledger_accounts", "journal_entries", "journal_lines", "ledger_grants",
                 "ledger_idempotency_keys", "ledger_settlements", "service_facts")


def ledger_snapshot() -> dict[str, int]:
    """Row counts of every ledger table and the sum of balances: equal before and after
    a refused request means nothing was written."""
    sess = session()
    counts = {table: sess.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
              for table in LEDGER_TABLES}
    counts["balances"] = int(sess.execute(text(
        "SELECT coalesce(sum(balance), 0) FROM ledger_accounts")).scalar_one())
    return counts


def enrol_student(student: Any, level: str = "primary", grade: int = 3,
                  active: bool = True) -> None:
    """Record a school enrolment in the registry (the registry's own table), and commit."""
    from backend.registry.models import SchoolEnrolment

    year = date.today().year
    session().add(SchoolEnrolment(citizen_id=student.id, school_code=f"SD{level[:2]}01",
                                  school_name=f"Sekolah {level.title()} Negeri 1",
                                  level=level, grade=grade, active=active,
                                  academic_year=f"{year}/{year + 1}"))
    session().commit()


def insure(person: Any, *, active: bool = True, jkn_class: int = 3) -> None:
    """Record a JKN membership with an assigned clinic in the registry, and commit."""
    from backend.registry.models import HealthAssignment

    session().add(HealthAssignment(citizen_id=person.id, facility_code="PKM-KBY-01",
                                   facility_name="Puskesmas Kebayoran Baru",
                                   jkn_class=jkn_class, premium_assisted=True,
                                   active=active))
    session().commit()


@pytest.fixture
def enrol(app: Flask) -> Callable[..., None]:
    """Factory: `enrol(student, level="junior", grade=8, active=True)`."""
    return enrol_student


@pytest.fixture
def insured(app: Flask) -> Callable[..., None]:
    """Factory: `insured(person, active=True, jkn_class=3)`."""
    return insure


@pytest.fixture
def fund(app: Flask) -> Callable[..., Posting]:
    """Factory: `fund("food", "groceries", household_or_citizen, 50_000)` -> Posting."""
    return fund_account


@pytest.fixture
def allocate_now(app: Flask) -> Callable[..., list[Outcome]]:
    """Factory: `allocate_now("food", period=None)` -> the allocation outcomes."""
    return run_allocations


@pytest.fixture
def call_service(client: FlaskClient) -> Callable[..., Any]:
    """Factory: `call_service(token, key, action, body=None, idempotency_key=<new>)`
    -> the response. Pass `idempotency_key=None` to send none."""
    missing = object()

    def call(token: str, key: str, action: str, body: dict[str, Any] | None = None,
             idempotency_key: Any = missing, **headers: str) -> Any:
        sent = {"Authorization": f"Bearer {token}", **headers}
        if idempotency_key is missing:
            idempotency_key = f"test-{uuid.uuid4()}"
        if idempotency_key is not None:
            sent["Idempotency-Key"] = idempotency_key
        if body is None:
            return client.post(f"/api/v1/services/{key}/{action}", headers=sent)
        return client.post(f"/api/v1/services/{key}/{action}", json=body, headers=sent)

    return call


@pytest.fixture
def card_session_at(app: Flask, client: FlaskClient, soft_card: Callable) -> Callable[..., str]:
    """Factory: `card_session_at(holder, terminal_credentials, assurance="pin")` -> a card
    session at that very terminal (so many sessions share one agent shop or gate)."""
    from backend.testing.cards import KEY_BY_ASSURANCE, authenticate

    cards: dict[int, Any] = {}

    def make(holder: Any, at: Any, assurance: str = "pin") -> str:
        card = cards.get(holder.id) or cards.setdefault(holder.id, soft_card(holder))
        answer = authenticate(client, at.token, card, app.config["ORIGIN"],
                              KEY_BY_ASSURANCE[assurance])
        assert answer.status_code == 200, answer.json
        return answer.json["session_token"]

    return make


_BULK_CITIZENS = text(
    "INSERT INTO citizens (id, national_number, full_name, name_search, birth_date, sex, "
    "address, region_code, language) SELECT g, '35' || lpad(g::text, 14, '0'), 'Warga ' || g, "
    "'warga ' || g, date '1960-01-01' + (g % 15000), CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' "
    "END, 'Jl. Kenanga ' || g, '3578' || lpad((g % 31 + 1)::text, 2, '0') || '00' || "
    "lpad((g % 9 + 1)::text, 2, '0'), 'id' "
    "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g")
_BULK_HOUSEHOLDS = text(
    "INSERT INTO households (id, family_card_number, head_citizen_id, region_code, "
    "welfare_decile) SELECT g, '36' || lpad(g::text, 14, '0'), g, '3578' || "
    "lpad((g % 31 + 1)::text, 2, '0') || '00' || lpad((g % 9 + 1)::text, 2, '0'), "
    "1 + g % CAST(:deciles AS int) "
    "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g")
_BULK_MEMBERS = text(
    "INSERT INTO household_members (citizen_id, household_id, relationship) "
    "SELECT g, g, 'head' "
    "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g")


def synth_households_pg(conn: Any, count: int, deciles: int = 10, first: int = 1) -> None:
    """`count` one-person households on PostgreSQL, in three set-based statements
    (ids first..first+count-1; deciles cycle 1..`deciles`). For scale tests and the bench."""
    span = {"first": first, "last": first + count - 1, "deciles": deciles}
    for statement in (_BULK_CITIZENS, _BULK_HOUSEHOLDS, _BULK_MEMBERS):
        conn.execute(statement, span)
    for table in ("citizens", "households"):
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                          f"(SELECT max(id) FROM {table}))"))
