"""Migration 0017 partitions a journal that already has entries, and can be undone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from backend import migrations
from backend.db import make_engine
from backend.ledger import checks, postings
from backend.testing import databases

pytestmark = pytest.mark.postgres

BEFORE = "0016"
MONTHS = (datetime(2025, 11, 20, tzinfo=UTC), datetime(2025, 12, 5, tzinfo=UTC))
HOUSEHOLD = postings.Owner("household", "7")


def _pay(engine: Engine, at: datetime | None, period: str) -> int:
    """One grant and the entry that pays it, as an allocation writes them."""
    with Session(engine) as sess, sess.begin():
        funding = postings.open_account(sess, "food", "groceries", postings.FUNDING)
        household = postings.open_account(sess, "food", "groceries", HOUSEHOLD)
        entry_id, _ = postings.post(sess, postings.Entry(
            kind="grant", programme="food", purse="groceries", period=period, at=at),
            [(funding, -500), (household, 500)])
        sess.execute(text(
            "INSERT INTO ledger_grants (programme, purse, period, beneficiary_type, "
            "beneficiary_ref, amount, entry_id) VALUES ('food', 'groceries', :p, "
            "'household', '7', 500, :e)"), {"p": period, "e": entry_id})
    return entry_id


@pytest.fixture
def journal_before(app_role: str) -> Iterator[Engine]:
    """A database at 0016 whose journal has entries of two past months and this one, and
    an application role that may read and write it."""
    name = databases.unique_name("sk_journal_mig")
    url = databases.create_pg_database(name)
    migrations.upgrade(url, BEFORE)
    engine = make_engine(url, poolclass=None)
    for number, at in enumerate((*MONTHS, None)):
        _pay(engine, at, f"2025-{number + 10:02d}")
    with engine.begin() as conn:
        conn.execute(text(f"GRANT SELECT, INSERT ON journal_entries, journal_lines "
                          f"TO {app_role}"))
    yield engine
    engine.dispose()
    databases.drop_pg_database(name)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _homes(engine: Engine, table: str) -> list[str]:
    order = "id" if table == "journal_entries" else "entry_id, line_no"
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT tableoid::regclass::text FROM {table} "
                                 f"ORDER BY {order}")).scalars().all()


def _intact(engine: Engine) -> bool:
    with Session(engine) as sess:
        return not any(checks.findings(sess).values())


def test_upgrade_moves_each_entry_and_its_lines_into_their_months_partitions(journal_before):
    migrations.upgrade(_url(journal_before))
    months = ["2025_11", "2025_12", f"{datetime.now(UTC):%Y_%m}"]
    assert _homes(journal_before, "journal_entries") == \
        [f"partitions.journal_entries_{m}" for m in months]
    assert _homes(journal_before, "journal_lines") == \
        [f"partitions.journal_lines_{m}" for m in months for _ in (1, 2)]


def test_upgrade_keeps_the_ledger_intact_and_grants_naming_their_entries(journal_before):
    migrations.upgrade(_url(journal_before))
    with journal_before.connect() as conn:
        unmatched = conn.execute(text(
            "SELECT count(*) FROM ledger_grants g LEFT JOIN journal_entries e "
            "ON (e.id, e.posted_at) = (g.entry_id, g.entry_posted_at) WHERE e.id IS NULL"
        )).scalar()
    assert unmatched == 0 and _intact(journal_before)


def test_upgrade_keeps_the_application_roles_grants(journal_before, app_role):
    migrations.upgrade(_url(journal_before))
    with journal_before.connect() as conn:
        held = {(table, privilege): conn.execute(text(
            "SELECT has_table_privilege(:role, :table, :privilege)"),
            {"role": app_role, "table": table, "privilege": privilege}).scalar()
            for table in ("journal_entries", "journal_lines")
            for privilege in ("SELECT", "INSERT", "UPDATE")}
    assert held == {(table, privilege): privilege != "UPDATE"
                    for table, privilege in held}


def test_a_posting_after_the_upgrade_lands_in_this_months_partitions(journal_before):
    migrations.upgrade(_url(journal_before))
    entry_id = _pay(journal_before, None, "2026-01")
    with journal_before.connect() as conn:
        homes = conn.execute(text(
            "SELECT DISTINCT tableoid::regclass::text FROM journal_lines WHERE entry_id = :e "
            "UNION ALL SELECT tableoid::regclass::text FROM journal_entries WHERE id = :e"),
            {"e": entry_id}).scalars().all()
    assert homes == [f"partitions.{table}_{datetime.now(UTC):%Y_%m}"
                     for table in ("journal_lines", "journal_entries")]
    assert _intact(journal_before)


def test_a_partition_refuses_an_edit_even_from_the_owner(journal_before):
    migrations.upgrade(_url(journal_before))
    with pytest.raises(DBAPIError, match="immutable"), journal_before.begin() as conn:
        conn.execute(text("UPDATE partitions.journal_lines_2025_11 SET amount = 0"))


def test_a_grant_naming_an_entry_of_another_posting_is_refused(journal_before):
    migrations.upgrade(_url(journal_before))
    with pytest.raises(IntegrityError, match="fk_ledger_grants_entry"), \
            journal_before.begin() as conn:
        conn.execute(text(
            "INSERT INTO ledger_grants (programme, purse, period, beneficiary_type, "
            "beneficiary_ref, amount, entry_id) SELECT 'food', 'groceries', '2030-01', "
            "'household', '8', 500, min(id) FROM journal_entries"))


def test_downgrade_returns_plain_tables_with_the_same_journal(journal_before):
    url = _url(journal_before)
    migrations.upgrade(url)
    migrations.downgrade(url, BEFORE)
    assert set(_homes(journal_before, "journal_entries")) == {"journal_entries"}
    assert set(_homes(journal_before, "journal_lines")) == {"journal_lines"}
    with journal_before.connect() as conn:
        keys = conn.execute(text(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND confrelid = "
            "'journal_entries'::regclass ORDER BY conname")).scalars().all()
    assert keys == ["fk_journal_lines_entry_id_journal_entries",
                    "fk_ledger_grants_entry_id_journal_entries",
                    "fk_ledger_settlements_entry_id_journal_entries"]
    assert _intact(journal_before)
    _pay(journal_before, None, "2026-02")  # and the ledger still posts
