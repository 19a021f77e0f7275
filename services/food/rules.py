"""Who gets food credit: households at or below the city's welfare-decile threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, literal, select

from backend.services import Eligibility, Household, Period, RegistryTables


def decide(household: Household | None, params: Mapping[str, Any]) -> Eligibility:
    if household is None:
        return Eligibility.no("no_household")
    threshold = params["decile_threshold"]
    if household.welfare_decile > threshold:
        return Eligibility.no("decile_above_threshold", decile=household.welfare_decile,
                              threshold=threshold)
    return Eligibility.yes(household_id=household.id, monthly_amount=params["monthly_amount"])


def beneficiaries(t: RegistryTables, period: Period, params: Mapping[str, Any],
                  low: int, high: int) -> Select:
    """Every household in (low, high] at or below the threshold, with the monthly credit."""
    h = t.households
    return select(h.c.id.label("beneficiary_id"), h.c.head_citizen_id.label("citizen_id"),
                  literal(params["monthly_amount"]).label("amount")).where(
        h.c.id > low, h.c.id <= high, h.c.welfare_decile <= params["decile_threshold"])
