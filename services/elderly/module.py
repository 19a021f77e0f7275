"""Elderly allowance (like Jakarta's card for the elderly): monthly, cash, accumulating."""

from __future__ import annotations

from typing import Any

from backend.services import (
    Action,
    Allocation,
    Citizen,
    Eligibility,
    Param,
    PurseRule,
    ServiceContext,
    ServiceModule,
)
from services.elderly import rules
from services.elderly.schemas import Withdraw

PURSE = "allowance"


def withdraw(ctx: ServiceContext, request: Withdraw) -> dict[str, Any]:
    posting = ctx.debit(PURSE, request.amount, kind="withdrawal")
    return {"entry_id": posting.entry_id, "receipt": posting.entry_id,
            "amount": posting.amount, "balance_after": posting.balance_after}


class ElderlyAllowance(ServiceModule):
    key = "elderly"
    title = {"en": "Elderly allowance", "id": "Kartu Lansia Jakarta",
             "th": "เบี้ยยังชีพผู้สูงอายุ"}
    params = {
        "min_age": Param(60, "Youngest age (years, at the month's start)."),
        "decile_threshold": Param(4, "Households at or below this welfare decile qualify."),
        "monthly_amount": Param(600_000, "Allowance per month (rupiah)."),
    }
    purses = {PURSE: PurseRule(holder="citizen", cashable=True, carry_over=True)}
    actions = {
        "withdraw": Action(withdraw, purpose="elderly allowance withdrawal at a counter",
                           summary="Pay out allowance as cash", input=Withdraw,
                           assurance="pin", terminal_kinds=("counter",), eligible_only=False),
    }
    allocations = (Allocation(PURSE, "monthly", rules.beneficiaries),)

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        return rules.decide(citizen, ctx.household_of(citizen.id), ctx.today, ctx.params)


module = ElderlyAllowance()
