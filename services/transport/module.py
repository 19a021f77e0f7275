"""Transport subsidy (like Thailand's welfare card transit credit).

Adults of low-decile households get a monthly transit credit that lapses at the
month's end. A gate deducts each fare on a tap, without PIN, so each fare is capped.
"""

from __future__ import annotations

from typing import Any

from backend.services import (
    Action,
    Allocation,
    Citizen,
    Eligibility,
    Param,
    Reason,
    ServiceContext,
    ServiceModule,
    refuse,
)
from services.transport import rules
from services.transport.schemas import Fare

PURSE = "transit"


def pay_fare(ctx: ServiceContext, fare: Fare) -> dict[str, Any]:
    if fare.amount <= 0:
        refuse(Reason.AMOUNT_INVALID, "a fare must be above 0", amount=fare.amount)
    cap = ctx.params["fare_cap"]
    if fare.amount > cap:
        refuse(Reason.AMOUNT_ABOVE_CAP, f"a fare on a tap is at most {cap}", cap=cap,
               amount=fare.amount)
    posting = ctx.debit(PURSE, fare.amount, kind="fare", details={"route": fare.route})
    return posting.answer()


class TransportSubsidy(ServiceModule):
    key = "transport"
    title = {"en": "Transport subsidy", "id": "Subsidi Transportasi",
             "th": "ค่าโดยสารรถสาธารณะ"}
    params = {
        "decile_threshold": Param(4, "Households at or below this welfare decile qualify."),
        "min_age": Param(18, "Youngest age (years) for the transit credit."),
        "monthly_amount": Param(150_000, "Transit credit per month (rupiah)."),
        "fare_cap": Param(10_000, "Largest fare a gate may deduct on a tap (rupiah)."),
    }
    actions = {
        "fare": Action(pay_fare, purpose="transit fare at a gate", summary="Deduct a fare",
                       input=Fare, assurance="tap", terminal_kinds=("gate",)),
    }
    allocations = (Allocation(PURSE, "monthly", rules.beneficiaries),)

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        return rules.decide(citizen, ctx.household_of(citizen.id), ctx.today, ctx.params)


module = TransportSubsidy()
