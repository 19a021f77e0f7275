"""Rules several programmes share, written once in Python and once as SQL.

Each pair decides the same thing for one citizen (at a terminal) and for the whole
registry (the allocation); `backend.testing.eligibility` checks that they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from backend.services.allocations import RegistryTables
from backend.services.interface import CashWithdrawal, ServiceContext
from backend.services.periods import Period, years_before
from backend.services.records import Citizen, Eligibility, Household

if TYPE_CHECKING:
    from sqlalchemy import Select


def cash_withdrawal(purse: str) -> Callable[[ServiceContext, CashWithdrawal], dict[str, Any]]:
    """The handler of a counter's cash pay-out from `purse` (the purse must be cashable)."""

    def withdraw(ctx: ServiceContext, request: CashWithdrawal) -> dict[str, Any]:
        return ctx.debit(purse, request.amount, kind="withdrawal").answer()

    return withdraw


def decide_by_age_and_decile(citizen: Citizen, household: Household | None, day: date,
                             params: Mapping[str, Any]) -> Eligibility:
    """Eligible, while living, from `min_age` in a household at or below `decile_threshold`.

    For monthly programmes with params `min_age`, `decile_threshold`, `monthly_amount`;
    `beneficiaries_by_age_and_decile` is the same rule as one set-based query.
    """
    if citizen.died_on is not None:
        return Eligibility.no("deceased", died_on=citizen.died_on.isoformat())
    age = citizen.age_on(day)
    if age < params["min_age"]:
        return Eligibility.no("under_age", age=age, min_age=params["min_age"])
    if household is None:
        return Eligibility.no("no_household")
    if household.welfare_decile > params["decile_threshold"]:
        return Eligibility.no("decile_above_threshold", decile=household.welfare_decile,
                              threshold=params["decile_threshold"])
    return Eligibility.yes(monthly_amount=params["monthly_amount"])


def beneficiaries_by_age_and_decile(t: RegistryTables, period: Period,
                                    params: Mapping[str, Any], low: int, high: int) -> Select:
    from sqlalchemy import literal, select

    c, m, h = t.citizens, t.members, t.households
    return (select(c.c.id.label("beneficiary_id"), c.c.id.label("citizen_id"),
                   literal(params["monthly_amount"]).label("amount"))
            .join(m, m.c.citizen_id == c.c.id).join(h, h.c.id == m.c.household_id)
            .where(c.c.id > low, c.c.id <= high, c.c.died_on.is_(None),
                   c.c.birth_date <= years_before(period.start, params["min_age"]),
                   h.c.welfare_decile <= params["decile_threshold"]))
