"""Who gets a stipend: living school-age children enrolled at school, from low-decile homes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Select, case, exists, func, select

from backend.services import (
    Citizen,
    Eligibility,
    Enrolment,
    Household,
    Period,
    RegistryTables,
    years_before,
)

LEVELS = ("primary", "junior", "senior")


def amount_for(level: str, params: Mapping[str, Any]) -> int:
    return int(params[f"{level}_amount"])


def decide(citizen: Citizen, household: Household | None,
           enrolments: tuple[Enrolment, ...], day: date,
           params: Mapping[str, Any]) -> Eligibility:
    if citizen.died_on is not None:
        return Eligibility.no("deceased", died_on=citizen.died_on.isoformat())
    age = citizen.age_on(day)
    if not params["min_age"] <= age <= params["max_age"]:
        return Eligibility.no("age_out_of_range", age=age)
    active = [e for e in enrolments if e.active]
    if not active:
        return Eligibility.no("not_enrolled")
    if household is None:
        return Eligibility.no("no_household")
    if household.welfare_decile > params["decile_threshold"]:
        return Eligibility.no("decile_above_threshold", decile=household.welfare_decile,
                              threshold=params["decile_threshold"])
    level = max(active, key=lambda e: LEVELS.index(e.level)).level
    return Eligibility.yes(level=level, semester_amount=amount_for(level, params))


def beneficiaries(t: RegistryTables, period: Period, params: Mapping[str, Any],
                  low: int, high: int) -> Select:
    """Students in (low, high], by citizen id, with the stipend of their highest level."""
    c, m, h, e = t.citizens, t.members, t.households, t.enrolments
    level_rank = case({"primary": 1, "junior": 2, "senior": 3}, value=e.c.level)
    best = (select(func.max(level_rank)).where(e.c.citizen_id == c.c.id, e.c.active)
            .correlate(c).scalar_subquery())
    amount = case((best == 3, params["senior_amount"]), (best == 2, params["junior_amount"]),
                  else_=params["primary_amount"])
    return (select(c.c.id.label("beneficiary_id"), c.c.id.label("citizen_id"),
                   amount.label("amount"))
            .join(m, m.c.citizen_id == c.c.id).join(h, h.c.id == m.c.household_id)
            .where(c.c.id > low, c.c.id <= high, c.c.died_on.is_(None),
                   c.c.birth_date <= years_before(period.start, params["min_age"]),
                   c.c.birth_date > years_before(period.start, params["max_age"] + 1),
                   h.c.welfare_decile <= params["decile_threshold"],
                   exists().where(e.c.citizen_id == c.c.id, e.c.active)))
