"""Education stipend (like Indonesia's KIP): per student, per semester.

Enrolled school-age children of low-decile households get a stipend by school level,
paid into their own account; it is cash and accumulates, and is withdrawn at a
counter with the card and PIN.
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
    ServiceContext,
    ServiceModule,
    cash_withdrawal,
)
from services.education import rules

PURSE = "stipend"



class EducationStipend(ServiceModule):
    key = "education"
    title = {"en": "Education stipend", "id": "Program Indonesia Pintar",
             "th": "ทุนการศึกษา"}
    params = {
        "decile_threshold": Param(4, "Students from households at or below this decile."),
        "min_age": Param(6, "Youngest age (years, at the semester's start)."),
        "max_age": Param(21, "Oldest age (years, at the semester's start)."),
        "primary_amount": Param(450_000, "Stipend per semester, primary school."),
        "junior_amount": Param(750_000, "Stipend per semester, junior secondary."),
        "senior_amount": Param(1_000_000, "Stipend per semester, senior secondary."),
    }
    actions = {
        "withdraw": Action(cash_withdrawal(PURSE),
                           purpose="education stipend withdrawal at a counter or agent",
                           summary="Pay out stipend as cash", input=CashWithdrawal,
                           assurance="pin", terminal_kinds=("counter", "agent"),
                           eligible_only=False),
    }
    allocations = (Allocation(PURSE, "semester", rules.beneficiaries),)

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        return rules.decide(citizen, ctx.household_of(citizen.id),
                            ctx.enrolments(citizen.id), ctx.today, ctx.params)

    def overview(self, ctx: ServiceContext, citizen: Citizen) -> dict[str, Any]:
        active = [e for e in ctx.enrolments(citizen.id) if e.active]
        return {"schools": [{"school_name": e.school_name, "level": e.level,
                             "grade": e.grade, "academic_year": e.academic_year}
                            for e in active]}


module = EducationStipend()
