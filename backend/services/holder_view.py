"""The card holder's programmes as one card session may see them, for the API and the
screens alike (`backend.audiences` decides what each audience is sent)."""

from __future__ import annotations

from typing import Any

from pydantic import SerializerFunctionWrapHandler, model_serializer

from backend.api.routing import OutModel
from backend.audiences import Audience, audience_of
from backend.audit import record_read
from backend.auth.principal import Principal
from backend.db import session
from backend.errors import ApiError
from backend.services.authorise import allowed_here, eligibility
from backend.services.catalogue import modules
from backend.services.context import HubContext
from backend.services.interface import ServiceModule


class _Shown(OutModel):
    """A model whose fields an audience may leave out (`backend.audiences`): a field
    not given is not sent, rather than sent empty."""

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if k in self.model_fields_set}


class RecentLineOut(_Shown):
    """A movement of one of the holder's purses. The citizen at a kiosk after the PIN
    sees every field; a shop's terminal sees only its own sales, without
    `balance_after`, `period` or `terminal_id`. `details` holds only `items` (a
    basket) and `route` (a fare)."""

    entry_id: int
    purse: str
    kind: str
    amount: int
    at: str | None
    balance_after: int | None = None
    period: str | None = None
    terminal_id: str | None = None
    details: dict[str, Any] | None = None


class ProgrammeOut(_Shown):
    """One programme as this card session may see it (`backend.audiences`): every
    audience gets the programme, eligibility, balances and actions; `details` and
    `overview` only the citizen at a kiosk after the PIN; `recent` the citizen (their
    statement) and an agent shop or gate after the PIN (its own sales only)."""

    key: str
    title: str
    eligible: bool
    reason: str | None
    balances: dict[str, int]
    actions: list[str]
    details: dict[str, Any] | None = None
    recent: list[RecentLineOut] | None = None
    overview: dict[str, Any] | None = None


class ServicesOut(OutModel):
    citizen_id: int
    language: str
    programmes: list[ProgrammeOut]


def programmes_for(principal: Principal) -> ServicesOut:
    """The card holder's programmes as this card session may see them, read audited.

    One function for the API and the screens, so a kiosk page shows exactly what the
    API would answer the same session. What each audience (terminal kind and
    assurance) sees is `backend.audiences`: nothing outside its allow-lists is sent."""
    assert principal.card is not None
    audience = audience_of(principal.terminal_kind, principal.card.assurance)
    listed = []
    language = "id"
    for module in modules().values():
        actions = [n for n, a in module.actions.items() if allowed_here(a, principal)]
        if principal.role not in ("kiosk", "counter") and not actions:
            continue
        ctx = HubContext(session(), module, principal, principal.card.citizen_id)
        language = ctx.citizen.language or language
        listed.append(_programme(module, ctx, actions, audience))
    record_read(session(), principal.card.citizen_id, "show the card holder their "
                "programmes", ["welfare_decile", "household", "enrolments", "health"])
    return ServicesOut(citizen_id=principal.card.citizen_id, language=language,
                       programmes=listed)


RECENT_PER_PURSE = 5
RECENT_PER_PROGRAMME = 10


def _programme(module: ServiceModule, ctx: HubContext, actions: list[str],
               audience: Audience) -> ProgrammeOut:
    decision = eligibility(module, ctx)
    terminal = ctx.principal.terminal_id if ctx.principal else None
    lines_shown = audience.sees_recent and (terminal is not None
                                            or not audience.own_lines_only)
    balances: dict[str, int] = {}
    recent: list[dict[str, Any]] = []
    for purse in module.purses:
        try:
            account = ctx.account_id(purse)
        except ApiError:  # no household for a household purse: nothing to show
            continue
        if account is not None:
            balances[purse] = ctx.balance(purse)
            if lines_shown:
                recent += [{"purse": purse, **line} for line in ctx.recent(
                    purse, RECENT_PER_PURSE,
                    terminal_id=terminal if audience.own_lines_only else None)]
    recent.sort(key=lambda line: line["entry_id"], reverse=True)
    fields: dict[str, Any] = {
        "key": module.key, "title": module.title_in(ctx.citizen.language),
        "eligible": decision.eligible, "reason": decision.reason, "balances": balances,
        "actions": actions}
    if "details" in audience.programme:
        fields["details"] = dict(decision.details)
    if "overview" in audience.programme:
        fields["overview"] = dict(module.overview(ctx, ctx.citizen))
    if audience.sees_recent:
        fields["recent"] = [RecentLineOut(**audience.line_view(line))
                            for line in recent[:RECENT_PER_PROGRAMME]]
    return ProgrammeOut(**audience.programme_view(fields))
