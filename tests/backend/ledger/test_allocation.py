"""Allocation: one grant per beneficiary and period, however often and however it stops."""

import pytest
from sqlalchemy import func, select

from backend.db import database, session
from backend.ledger.allocation import allocate
from backend.ledger.models import Account, Grant, JournalEntry, Purse
from backend.services import Period
from backend.services.catalogue import modules
from backend.testing.services import ledger_totals

MONTH = Period.parse("2026-03")


class Killed(Exception):
    """Stands for the process dying between two batches."""


@pytest.fixture
def poor_households(citizen, household):
    return [household(head=citizen(), welfare_decile=decile) for decile in (1, 2, 3, 4, 2, 1)]


def food_run(**options):
    module = modules()["food"]
    return allocate(database(), module, module.allocations[0], MONTH, **options)


def grants_to(homes):
    refs = [str(h.id) for h in homes]
    return session().execute(select(Grant.beneficiary_ref, func.count()).where(
        Grant.programme == "food", Grant.period == MONTH.key, Grant.beneficiary_ref.in_(refs))
        .group_by(Grant.beneficiary_ref)).all()


def balances_of(homes):
    refs = [str(h.id) for h in homes]
    return sorted(session().scalars(select(Account.balance).where(
        Account.programme == "food", Account.owner_type == "household",
        Account.owner_ref.in_(refs))))


def test_each_eligible_household_gets_one_grant(poor_households, citizen, household):
    rich = household(head=citizen(), welfare_decile=9)
    food_run()
    assert sorted(n for _, n in grants_to(poor_households)) == [1] * 6
    assert grants_to([rich]) == []


def test_a_second_run_is_a_no_op(poor_households):
    food_run()
    before = (balances_of(poor_households), ledger_totals())
    again = food_run(rescan=True)
    assert again.granted == 0
    assert (balances_of(poor_households), ledger_totals()) == before


def test_a_run_killed_between_batches_resumes_without_granting_twice(poor_households):
    first_batch_done = []

    def die_after_first_grants(granted, _last_id):
        if granted:
            first_batch_done.append(granted)
            raise Killed

    with pytest.raises(Killed):
        food_run(batch=2, after_batch=die_after_first_grants)
    assert 0 < len(grants_to(poor_households)) < 6
    food_run(batch=2)
    assert sorted(n for _, n in grants_to(poor_households)) == [1] * 6
    assert balances_of(poor_households) == [200_000] * 6
    assert ledger_totals() == {"unbalanced": 0, "negative": 0, "drift": 0}


def test_a_batch_is_one_balanced_entry_against_the_funding_account(poor_households):
    done = food_run()
    entries = session().scalars(select(JournalEntry).where(
        JournalEntry.programme == "food", JournalEntry.period == MONTH.key)).all()
    assert sum(e.amount for e in entries) == done.amount
    funding = session().scalar(select(Account.balance).where(
        Account.programme == "food", Account.owner_type == "programme",
        Account.owner_ref == "funding"))
    assert funding == -done.amount


def test_a_period_of_another_cadence_is_refused(poor_households):
    module = modules()["food"]
    with pytest.raises(ValueError, match="monthly"):
        allocate(database(), module, module.allocations[0], Period.parse("2026-Q1"))


def test_the_purse_rules_are_written_as_data(poor_households):
    food_run()
    rule = session().get(Purse, ("food", "groceries"))
    assert (rule.cashable, rule.carry_over) == (False, False)
    assert "rice" in rule.categories and "tobacco" not in rule.categories
