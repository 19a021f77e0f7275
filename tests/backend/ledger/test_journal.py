"""The database itself keeps the journal balanced and immutable, and balances >= 0."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

FUNDING, ALICE = 1, 2


@pytest.fixture
def ledger(committed_engine):
    with committed_engine.begin() as db:
        db.execute(text(
            "INSERT INTO ledger_accounts (id, programme, purse, owner_type, owner_ref, balance,"
            " allow_negative) VALUES (1, 'food', 'groceries', 'programme', 'funding', 0, true),"
            " (2, 'food', 'groceries', 'household', '7', 0, false)"))
        post(db, 10, [(FUNDING, -500), (ALICE, 500)])
    return committed_engine


def post(db, entry_id, legs, kind="grant"):
    for number, (account, amount) in enumerate(legs, start=1):
        db.execute(text("UPDATE ledger_accounts SET balance = balance + :a WHERE id = :id"),
                   {"a": amount, "id": account})
        db.execute(text("INSERT INTO journal_lines VALUES (:e, :n, :acc, :a, 0)"),
                   {"e": entry_id, "n": number, "acc": account, "a": amount})
    db.execute(text("INSERT INTO journal_entries (id, kind, programme, amount) "
                    "VALUES (:e, :k, 'food', 1)"), {"e": entry_id, "k": kind})


def refused(engine, *statements):
    with pytest.raises(IntegrityError), engine.begin() as db:
        for statement in statements:
            statement(db) if callable(statement) else db.execute(text(statement))


def test_a_balanced_entry_is_written(ledger):
    with ledger.connect() as db:
        assert db.execute(text("SELECT balance FROM ledger_accounts WHERE id = 2")).scalar() \
            == 500


def test_an_entry_whose_lines_do_not_sum_to_zero_is_refused(ledger):
    refused(ledger, lambda db: post(db, 11, [(FUNDING, -100), (ALICE, 90)]))


def test_an_entry_of_one_line_is_refused(ledger):
    refused(ledger, lambda db: post(db, 12, [(ALICE, 0)]))


def test_a_line_cannot_join_a_written_entry(ledger):
    refused(ledger, "INSERT INTO journal_lines VALUES (10, 3, 2, 0, 0)")


def test_a_line_without_an_entry_is_refused(ledger):
    refused(ledger, "INSERT INTO journal_lines VALUES (99, 1, 2, 5, 0)",
            "INSERT INTO journal_lines VALUES (99, 2, 1, -5, 0)")


@pytest.mark.parametrize("statement", [
    "UPDATE journal_lines SET amount = 1000 WHERE entry_id = 10 AND line_no = 2",
    "DELETE FROM journal_lines WHERE entry_id = 10",
    "UPDATE journal_entries SET kind = 'spend' WHERE id = 10",
    "DELETE FROM journal_entries WHERE id = 10",
])
def test_the_journal_cannot_be_edited(ledger, statement):
    refused(ledger, statement)


def test_a_balance_cannot_go_below_zero(ledger):
    refused(ledger, "UPDATE ledger_accounts SET balance = balance - 501 WHERE id = 2")


def test_the_programmes_funding_account_may(ledger):
    with ledger.begin() as db:
        db.execute(text("UPDATE ledger_accounts SET balance = balance - 501 WHERE id = 1"))
        db.execute(text("UPDATE ledger_accounts SET balance = balance + 501 WHERE id = 1"))


def grant(db, entry_id, period):
    """A grant with the entry that pays it, as an allocation batch writes both."""
    post(db, entry_id, [(FUNDING, -500), (ALICE, 500)])
    db.execute(text("INSERT INTO ledger_grants (programme, purse, period, beneficiary_type, "
                    "beneficiary_ref, amount, entry_id) VALUES ('food', 'groceries', :p, "
                    "'household', '7', 500, :e)"), {"p": period, "e": entry_id})


def test_one_grant_per_programme_period_and_beneficiary(ledger):
    with ledger.begin() as db:
        grant(db, 20, "2026-05")
    refused(ledger, lambda db: grant(db, 21, "2026-05"))


def test_a_grant_cannot_be_edited(ledger):
    with ledger.begin() as db:
        grant(db, 20, "2026-06")
    refused(ledger, "UPDATE ledger_grants SET amount = 5000")
