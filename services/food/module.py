"""Food assistance (like Indonesia's BPNT/Sembako): a household's monthly grocery credit.

The credit cannot be cashed or carried over (it lapses at the month's end) and buys
only staple categories. An agent shop's terminal redeems it with the card and PIN,
sending the basket; a kiosk shows the balance on a tap.
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
from services.food import rules
from services.food.schemas import Redeem

PURSE = "groceries"


def redeem(ctx: ServiceContext, basket: Redeem) -> dict[str, Any]:
    if basket.amount <= 0:
        refuse(Reason.AMOUNT_INVALID, "the amount must be above 0", amount=basket.amount)
    total = sum(item.total for item in basket.items)
    if basket.amount != total:
        refuse(Reason.AMOUNT_INVALID, f"the amount {basket.amount} is not the items' total "
               f"{total}", amount=basket.amount, items_total=total)
    cap = ctx.params["max_redemption"]
    if basket.amount > cap:
        refuse(Reason.AMOUNT_ABOVE_CAP, f"one redemption is at most {cap}", cap=cap)
    items = [item.model_dump() for item in basket.items]
    posting = ctx.debit(PURSE, basket.amount, categories=tuple(i["category"] for i in items),
                        details={"items": items})
    return posting.answer(items=items)


def balance(ctx: ServiceContext, _input: Any) -> dict[str, Any]:
    return {"purse": PURSE, "balance": ctx.balance(PURSE)}


class FoodAssistance(ServiceModule):
    key = "food"
    title = {"en": "Food assistance", "id": "Bantuan Pangan Non Tunai",
             "th": "วงเงินซื้อสินค้าอุปโภคบริโภค"}
    params = {
        "decile_threshold": Param(4, "Households at or below this welfare decile qualify."),
        "monthly_amount": Param(200_000, "Monthly credit per household (rupiah)."),
        "max_redemption": Param(200_000, "Largest single redemption (rupiah)."),
        "offline_card_daily": Param(100_000, "Most one card may redeem offline in a day of "
                                    "the city's clock, at agents whose link is down "
                                    "(rupiah; 0: no offline redemption)."),
        "offline_agent_daily": Param(300_000, "Most one agent terminal may redeem offline "
                                     "in a day of the city's clock (rupiah; 0: none)."),
    }
    actions = {
        "redeem": Action(redeem, purpose="food assistance redemption at an agent shop",
                         summary="Pay for a basket of staples", input=Redeem,
                         assurance="pin", terminal_kinds=("agent",)),
        "balance": Action(balance, purpose="show the household's grocery credit",
                          summary="The grocery credit left", assurance="tap",
                          terminal_kinds=("kiosk", "agent", "counter"), mutating=False,
                          eligible_only=False),
    }
    allocations = (Allocation(PURSE, "monthly", rules.beneficiaries),)

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        return rules.decide(ctx.household_of(citizen.id), ctx.params)


module = FoodAssistance()
