"""Family hope conditional cash transfer (like Indonesia's PKH): quarterly, in arrears.

After each quarter, households of the lowest deciles whose members met the conditions
(clinic visits read from the health module's facts, school enrolment from the
registry) get a transfer per component; a withheld transfer names the unmet
condition and the member. The transfer is cash, withdrawn at a counter.
"""

from __future__ import annotations

from typing import Any

from backend.services import (
    Action,
    Allocation,
    CashWithdrawal,
    Citizen,
    Eligibility,
    Param,
    Period,
    ServiceContext,
    ServiceModule,
    cash_withdrawal,
)
from services.family_hope import rules

PURSE = "cash"


def decision_for(ctx: ServiceContext, citizen: Citizen, period: Period) -> Eligibility:
    home = ctx.household_of(citizen.id)
    if home is None:
        return rules.decide(None, set(), set(), set(), period, ctx.params)
    ids = tuple(m.citizen.id for m in home.members)
    visited = {f.citizen_id for f in ctx.facts(rules.HEALTH, rules.VISIT, ids,
                                               period.start, period.end)}
    pregnant = {f.citizen_id for f in ctx.facts(rules.HEALTH, rules.PREGNANCY, ids,
                                                period.start, period.end)}
    enrolled = {i for i in ids if any(e.active for e in ctx.enrolments(i))}
    return rules.decide(home, visited, pregnant, enrolled, period, ctx.params)


def conditions(ctx: ServiceContext, _input: Any) -> dict[str, Any]:
    period = Period.containing(ctx.today, "quarterly")
    decision = decision_for(ctx, ctx.citizen, period)
    return {"period": period.key, "met": decision.eligible, "reason": decision.reason,
            **dict(decision.details)}



class FamilyHope(ServiceModule):
    key = "family_hope"
    title = {"en": "Family hope cash transfer", "id": "Program Keluarga Harapan",
             "th": "เงินอุดหนุนครอบครัว"}
    params = {
        "decile_threshold": Param(3, "Households at or below this welfare decile qualify."),
        "child_amount": Param(750_000, "Per child under 6, per quarter."),
        "pregnancy_amount": Param(750_000, "Per pregnancy, per quarter."),
        "school_amount": Param(300_000, "Per school-age child, per quarter."),
    }
    actions = {
        "conditions": Action(conditions, purpose="show the household's family hope "
                             "conditions this quarter", summary="Conditions met so far",
                             assurance="tap", terminal_kinds=("kiosk", "counter"),
                             mutating=False, eligible_only=False),
        "withdraw": Action(cash_withdrawal(PURSE),
                           purpose="family hope withdrawal at a counter or agent",
                           summary="Pay out the transfer as cash", input=CashWithdrawal,
                           assurance="pin", terminal_kinds=("counter", "agent"),
                           eligible_only=False),
    }
    allocations = (Allocation(PURSE, "quarterly", rules.beneficiaries, in_arrears=True),)

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        """This quarter's conditions so far (the transfer is paid after the quarter)."""
        return decision_for(ctx, citizen, Period.containing(ctx.today, "quarterly"))


module = FamilyHope()
