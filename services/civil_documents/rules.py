"""Who may have a civil document issued, and how many a day.

Any living citizen in the registry may ask; the daily quota (a city parameter) keeps
a stolen card with its PIN from printing the holder's papers in bulk. Issued
documents are counted through the facts this module records, one per document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.services import Citizen, Eligibility, Household, ServiceContext

ISSUED_FACT = "document_issued"


def decide(citizen: Citizen) -> Eligibility:
    if citizen.died_on is not None:
        return Eligibility.no("deceased", died_on=citizen.died_on.isoformat())
    return Eligibility.yes()


def issued_today(ctx: ServiceContext, citizen_id: int) -> int:
    return len(ctx.facts(ctx.key, ISSUED_FACT, (citizen_id,), ctx.today, ctx.today))


def quota_left(ctx: ServiceContext, citizen_id: int, params: Mapping[str, Any]) -> int:
    return max(0, params["daily_quota"] - issued_today(ctx, citizen_id))


def on_family_card(household: Household | None) -> Eligibility:
    if household is None:
        return Eligibility.no("no_household")
    return Eligibility.yes(family_card_number=household.family_card_number)
