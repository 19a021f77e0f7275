"""Who may run a programme's action: one requirement per action, one guard for all.

An action's `Requirement` is built from its declaration and checked by the same
`backend.api.routing.check` that guards every endpoint, so the rule for who may do
what is written once; the API, the screens and `allowed_here` (which buttons a page
shows) all come through `authorise`.
"""

from __future__ import annotations

import functools

from backend.api.routing import check
from backend.auth.principal import Principal, Requirement
from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry.dedup import review
from backend.services.catalogue import live, modules
from backend.services.context import HubContext
from backend.services.interface import Action, ServiceModule
from backend.services.records import Eligibility


def find_action(key: str, name: str) -> tuple[ServiceModule, Action]:
    module = modules().get(key)
    if module is None:
        if key in live().catalogue.installed:
            raise ApiError(Reason.SERVICE_DISABLED, f"{key} is not enabled in this city", 404)
        raise ApiError(Reason.UNKNOWN_SERVICE, f"no service {key!r}", 404)
    action = module.actions.get(name)
    if action is None:
        raise ApiError(Reason.UNKNOWN_ACTION, f"{key} has no action {name!r}", 404,
                       {"actions": sorted(module.actions)})
    return module, action


@functools.cache
def requirement_of(action: Action) -> Requirement:
    """Who may call `action`: its staff roles without a card, its terminal kinds in a
    card session of at least its assurance."""
    return Requirement(roles=action.staff_roles, terminal_kinds=action.terminal_kinds,
                       card=True, assurance=action.assurance)


def authorise(action: Action, principal: Principal) -> int | None:
    """The citizen served (None for staff), or a refusal saying what was missing."""
    check(requirement_of(action), principal)
    return principal.card.citizen_id if principal.card is not None else None


def allowed_here(action: Action, principal: Principal) -> bool:
    try:
        authorise(action, principal)
    except ApiError:
        return False
    return True


DUPLICATE = "duplicate_record"


def refuse_duplicate(ctx: HubContext) -> None:
    """A record a clerk found to be another person's second registration serves nothing.

    The person is served once, under the record they were first registered with (its
    card, its household, its balances); the second record is not just ineligible for
    one programme but for every action, whatever the action's `eligible_only`, so its
    card cannot draw a second allowance, redeem what was credited to it before the
    decision, or record a visit against the wrong person. While a pair is still open
    (`review.pending_review`) the record is served as any other: see `review`."""
    if ctx.citizen_id is None:
        return
    if review.duplicate_of(ctx.session, ctx.citizen_id) is not None:
        raise ApiError(Reason.DUPLICATE_RECORD, "a clerk found this record to be a second "
                       "registration of another person; the person is served under the "
                       "first record", 403, {"eligibility": DUPLICATE})


def eligibility(module: ServiceModule, ctx: HubContext) -> Eligibility:
    """The module's decision for the card holder, after the hub's own: a duplicate
    record is eligible for nothing (`refuse_duplicate`)."""
    if ctx.citizen_id is not None and \
            review.duplicate_of(ctx.session, ctx.citizen_id) is not None:
        return Eligibility.no(DUPLICATE)
    return module.eligibility(ctx, ctx.citizen)


def require_eligible(module: ServiceModule, ctx: HubContext) -> Eligibility:
    decision = module.eligibility(ctx, ctx.citizen)
    if not decision.eligible:
        raise ApiError(Reason.NOT_ELIGIBLE, f"not eligible for {module.key}: "
                       f"{decision.reason}", 403,
                       {"eligibility": decision.reason, **dict(decision.details)})
    return decision
