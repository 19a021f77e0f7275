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


def require_eligible(module: ServiceModule, ctx: HubContext) -> Eligibility:
    decision = module.eligibility(ctx, ctx.citizen)
    if not decision.eligible:
        raise ApiError(Reason.NOT_ELIGIBLE, f"not eligible for {module.key}: "
                       f"{decision.reason}", 403,
                       {"eligibility": decision.reason, **dict(decision.details)})
    return decision
