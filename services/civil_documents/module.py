"""Civil documents: a citizen asks at a kiosk or a counter, with the card's PIN, for a
domicile letter or a family-card extract; the hub writes it from the registry as a
PDF signed by the city, with a QR code leading to its public verification."""

from __future__ import annotations

from typing import Any

from backend.services import (
    Action,
    Citizen,
    Eligibility,
    NoInput,
    Param,
    Reason,
    ServiceContext,
    ServiceModule,
    refuse,
)
from services.civil_documents import rules
from services.civil_documents.schemas import DomicileRequest

WHERE = ("kiosk", "counter")


def _issue(ctx: ServiceContext, kind: str, purpose: str = "") -> dict[str, Any]:
    citizen = ctx.citizen
    if rules.quota_left(ctx, citizen.id, ctx.params) <= 0:
        refuse(Reason.RATE_LIMITED, "today's documents for this citizen are already issued",
               429, daily_quota=ctx.params["daily_quota"])
    document = ctx.issue_document(kind, purpose=purpose)
    ctx.record_fact(rules.ISSUED_FACT, citizen.id, ctx.today,
                    {"kind": kind, "public_id": document["public_id"]})
    return {"document": dict(document)}


def domicile_letter(ctx: ServiceContext, request: DomicileRequest) -> dict[str, Any]:
    return _issue(ctx, "domicile_letter", request.purpose)


def family_card_extract(ctx: ServiceContext, _request: NoInput) -> dict[str, Any]:
    decision = rules.on_family_card(ctx.household_of(ctx.citizen.id))
    if not decision.eligible:
        refuse(Reason.NOT_ELIGIBLE, "the card holder is on no family card", 403,
               eligibility=decision.reason)
    return _issue(ctx, "family_card_extract")


class CivilDocuments(ServiceModule):
    key = "civil_documents"
    title = {"en": "Civil documents", "id": "Dokumen Kependudukan",
             "th": "เอกสารทะเบียนราษฎร"}
    params = {
        "daily_quota": Param(5, "Documents one citizen may have issued per day."),
    }
    actions = {
        "domicile_letter": Action(
            domicile_letter, purpose="issue a domicile letter from the registry",
            summary="A signed domicile letter (PDF)", input=DomicileRequest,
            assurance="pin", terminal_kinds=WHERE),
        "family_card_extract": Action(
            family_card_extract, purpose="issue an extract of the citizen's family card",
            summary="A signed family-card extract (PDF)", input=NoInput,
            assurance="pin", terminal_kinds=WHERE),
    }

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        return rules.decide(citizen)

    def overview(self, ctx: ServiceContext, citizen: Citizen) -> dict[str, Any]:
        return {"documents_left_today": rules.quota_left(ctx, citizen.id, ctx.params)}


module = CivilDocuments()
