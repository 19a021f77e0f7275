"""Elderly allowance (like Jakarta's card for the elderly): monthly, cash, accumulating."""

from __future__ import annotations

from backend.services import (
    Action,
    Allocation,
    CashWithdrawal,
    Citizen,
    Eligibility,
    Param,
    ServiceContext,
    ServiceModule,
    cash_withdrawal,
)
from services.elderly import rules

PURSE = "allowance"



class ElderlyAllowance(ServiceModule):
    key = "elderly"
    title = {"en": "Elderly allowance", "id": "Kartu Lansia Jakarta",
             "th": "เบี้ยยังชีพผู้สูงอายุ"}
    params = {
        "min_age": Param(60, "Youngest age (years, at the month's start)."),
        "decile_threshold": Param(4, "Households at or below this welfare decile qualify."),
        "monthly_amount": Param(600_000, "Allowance per month (rupiah)."),
    }
    actions = {
        "withdraw": Action(cash_withdrawal(PURSE),
                           purpose="elderly allowance withdrawal at a counter or agent",
                           summary="Pay out allowance as cash", input=CashWithdrawal,
                           assurance="pin", terminal_kinds=("counter", "agent"),
                           eligible_only=False),
    }
    allocations = (Allocation(PURSE, "monthly", rules.beneficiaries),)

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        return rules.decide(citizen, ctx.household_of(citizen.id), ctx.today, ctx.params)


module = ElderlyAllowance()
