"""Who gets the elderly allowance: citizens aged 60 or more of low-decile households."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Select, literal, select

from backend.services import (
    Citizen,
    Eligibility,
    Household,
    Period,
    RegistryTables,
    years_before,
)


def decide(citizen: Citizen, household: Household | None, day: date,
           params: Mapping[str, Any]) -> Eligibility:
    age = citizen.age_on(day)
    if age < params["min_age"]:
        return Eligibility.no("under_age", age=age, min_age=params["min_age"])
    if household is None:
        return Eligibility.no("no_household")
    if household.welfare_decile > params["decile_threshold"]:
        return Eligibility.no("decile_above_threshold", decile=household.welfare_decile,
                              threshold=params["decile_threshold"])
    return Eligibility.yes(monthly_amount=params["monthly_amount"])


def beneficiaries(t: RegistryTables, period: Period, params: Mapping[str, Any],
                  low: int, high: int) -> Select:
    c, m, h = t.citizens, t.members, t.households
    return (select(c.c.id.label("beneficiary_id"), c.c.id.label("citizen_id"),
                   literal(params["monthly_amount"]).label("amount"))
            .join(m, m.c.citizen_id == c.c.id).join(h, h.c.id == m.c.household_id)
            .where(c.c.id > low, c.c.id <= high, c.c.died_on.is_(None),
                   c.c.birth_date <= years_before(period.start, params["min_age"]),
                   h.c.welfare_decile <= params["decile_threshold"]))
