"""Health coverage (like Indonesia's KIS/JKN with premium assistance).

Membership, class and assigned clinic come from the registry. A clinic counter checks
coverage with a tap and registers a visit with the PIN; each visit is recorded as a
fact (`health`/`visit`) that other programmes read as a compliance condition, and an
antenatal visit also records the pregnancy until its expected delivery date.
"""

from __future__ import annotations

from typing import Any

from backend.services import (
    Action,
    Citizen,
    Eligibility,
    ServiceContext,
    ServiceModule,
    refuse,
)
from backend.services import Reason as R
from services.health import rules
from services.health.schemas import Visit


def coverage(ctx: ServiceContext, _input: Any) -> dict[str, Any]:
    return rules.coverage(ctx.health_cover(ctx.citizen.id))


def register_visit(ctx: ServiceContext, visit: Visit) -> dict[str, Any]:
    patient = _patient(ctx, visit.patient_id)
    decision = rules.decide(ctx.health_cover(patient))
    if not decision.eligible:
        refuse(R.NOT_COVERED, f"the patient is not covered: {decision.reason}", 403,
               patient_id=patient, coverage=decision.reason)
    problem = rules.delivery_date_problem(visit.kind, ctx.today, visit.expected_delivery)
    if problem:
        refuse(R.VALIDATION_FAILED, problem, 400, field="expected_delivery")
    data = {"visit_kind": visit.kind, "facility_code": visit.facility_code}
    ctx.record_fact(rules.VISIT, patient, ctx.today, data)
    if visit.expected_delivery is not None:
        ctx.record_fact(rules.PREGNANCY, patient, ctx.today, data, visit.expected_delivery)
    return {"patient_id": patient, "visited_on": ctx.today.isoformat(), **data}


def _patient(ctx: ServiceContext, patient_id: int | None) -> int:
    """The card holder, or a member of their household (a child has no card)."""
    if patient_id is None or patient_id == ctx.citizen.id:
        return ctx.citizen.id
    home = ctx.household_of(ctx.citizen.id)
    if home is None or patient_id not in {m.citizen.id for m in home.members}:
        refuse(R.FORBIDDEN, "the patient is not on the card holder's family card", 403,
               patient_id=patient_id)
    return patient_id


class HealthCoverage(ServiceModule):
    key = "health"
    title = {"en": "Health coverage", "id": "Kartu Indonesia Sehat",
             "th": "หลักประกันสุขภาพ"}
    actions = {
        "coverage": Action(coverage, purpose="check health coverage at a clinic",
                           summary="Membership, class and assigned clinic", assurance="tap",
                           terminal_kinds=("counter", "kiosk"), mutating=False,
                           eligible_only=False),
        "register_visit": Action(register_visit, purpose="register a clinic visit",
                                 summary="Record a visit (a compliance fact)", input=Visit,
                                 assurance="pin", terminal_kinds=("counter",),
                                 eligible_only=False),
    }

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        return rules.decide(ctx.health_cover(citizen.id))

    def overview(self, ctx: ServiceContext, citizen: Citizen) -> dict[str, Any]:
        return rules.coverage(ctx.health_cover(citizen.id))


module = HealthCoverage()
