"""The role x route x object matrix: every operation, every kind of caller.

Generated from what the routes declare (each `backend.api.routing.OPERATIONS` entry's
Requirement, which the OpenAPI document shows as `x-satukartu-access`, and for the
service route each action's own declaration), so a new route is covered the day it
is added. Callers: anonymous; staff admin, clerk, agent, auditor; bare terminal tokens
of kiosk, counter, agent and gate; and card sessions with tap and with PIN at each
terminal kind. Each request is well-formed and names objects that exist
(`requests_catalogue`), so what decides the answer is who asks:

- a caller the Requirement does not admit is refused with the reason naming what was
  missing (authentication_required, role_not_allowed, terminal_kind_not_allowed,
  forbidden for a bare terminal where a card is needed, assurance_too_low);
- a caller it admits gets 2xx, or the refusal the view adds by design (NARROWED).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backend.api.routing import OPERATIONS, Operation
from backend.auth.principal import ASSURANCE_ORDER, Requirement
from backend.reasons import Reason
from backend.services.catalogue import modules
from backend.tasks import celery_init_app
from tests.reliability.security.conftest import caller_kind
from tests.reliability.security.request_world import Ctx, send
from tests.reliability.security.requests_catalogue import CATALOGUE, action_call

SERVICE_ACTION = "api_services.run_action"
R = Reason


def refusal(need: Requirement, caller: str) -> Reason | None:
    """What `backend.api.routing.check` must answer this caller (None: admitted)."""
    kind, role, assurance = caller_kind(caller)
    if need.public:
        return None
    if kind == "anonymous":
        return R.AUTHENTICATION_REQUIRED
    if kind == "staff":
        if role not in need.roles:
            return R.ROLE_NOT_ALLOWED
        return R.FORBIDDEN if need.card else None
    if role not in need.terminal_kinds:
        return R.TERMINAL_KIND_NOT_ALLOWED
    if need.card and kind == "terminal":
        return R.FORBIDDEN
    if need.card and ASSURANCE_ORDER[assurance] < ASSURANCE_ORDER[need.assurance or "tap"]:
        return R.ASSURANCE_TOO_LOW
    return None


def action_refusal(action: Any, caller: str) -> Reason | None:
    """The same for a service action (`backend.services.authorise`): staff serve no
    citizen, so a staff role the action names needs no card."""
    kind, role, _ = caller_kind(caller)
    if kind == "staff":
        return None if role in action.staff_roles else R.ROLE_NOT_ALLOWED
    return refusal(Requirement(terminal_kinds=action.terminal_kinds, card=True,
                               assurance=action.assurance), caller)


def _card(caller: str) -> bool:
    return caller_kind(caller)[0] == "card"


def _bare_terminal_except(kind: str) -> Callable[[str], bool]:
    return lambda caller: caller_kind(caller)[0] == "terminal" and caller_kind(caller)[1] != kind


# Refusals a view adds for callers its Requirement admits, each for a reason of its own.
NARROWED: dict[str, tuple[Callable[[str], bool], Reason]] = {
    # A card session at a counter is the citizen, not the counter's staff: no registry.
    "api_registry.search_citizens": (_card, R.FORBIDDEN),
    "api_registry.read_citizen": (_card, R.FORBIDDEN),
    "api_registry.citizen_history": (_card, R.FORBIDDEN),
    "api_registry.read_household": (_card, R.FORBIDDEN),
    # A card session at a shop is the citizen, not the shop: no shop's takings.
    "api_ledger.show_takings": (_card, R.FORBIDDEN),
    "api_ledger.settle_day": (_card, R.FORBIDDEN),
    # Only a terminal's own token asks for challenges and presents card tokens.
    "api_cards.challenge": (_card, R.FORBIDDEN),
    "api_cards.token": (_card, R.FORBIDDEN),
    # A desk's steps are the desk's own: a card tapped at a desk is not the desk.
    "api_issuance.claim_job": (_card, R.FORBIDDEN),
    "api_issuance.certify_job": (_card, R.FORBIDDEN),
    "api_issuance.activate_job": (_card, R.FORBIDDEN),
    "api_issuance.fail_job": (_card, R.FORBIDDEN),
    # Ani's letter was issued at the kiosk, her receipt at the agent shop: to another
    # terminal they do not exist.
    "api_documents.document_pdf": (_bare_terminal_except("kiosk"), R.DOCUMENT_NOT_FOUND),
    "api_documents.receipt_pdf": (_bare_terminal_except("agent"), R.DOCUMENT_NOT_FOUND),
    # By design for everyone admitted.
    "api_registry.delete_citizen": (lambda _: True, R.DELETE_NOT_ALLOWED),
    "api_identity.oidc_login": (lambda _: True, R.SSO_DISABLED),
    "api_identity.oidc_callback": (lambda _: True, R.SSO_DISABLED),
}


def matrix_rows() -> list[tuple[str, str, Any, Callable[[str], Reason | None]]]:
    """(label, method, builder, expected refusal per caller) for every route and action."""
    rows = []
    for op in OPERATIONS:
        if op.endpoint == SERVICE_ACTION:
            continue
        rows.append((f"{op.method.upper()} {op.path}", op.method, CATALOGUE.get(op.endpoint),
                     _expectation(op)))
    for key, module in sorted(modules().items()):
        for name, action in sorted(module.actions.items()):
            rows.append((f"POST /api/v1/services/{key}/{name}", "post", action_call(key, name),
                         lambda caller, a=action: action_refusal(a, caller)))
    return rows


def _expectation(op: Operation) -> Callable[[str], Reason | None]:
    def expected(caller: str) -> Reason | None:
        guard = refusal(op.auth, caller)
        if guard is not None:
            return guard
        narrowed = NARROWED.get(op.endpoint)
        return narrowed[1] if narrowed and narrowed[0](caller) else None
    return expected


def _reason(answer: Any) -> str | None:
    body = answer.get_json(silent=True)
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    return error.get("reason") if isinstance(error, dict) else body.get("reason")


def check_row(ctx: Ctx, row: tuple, callers: dict[str, str | None]) -> list[str]:
    label, method, build, expected = row
    if build is None:
        return [f"{label}: no request in requests_catalogue.CATALOGUE"]
    wrong = []
    for caller, token in callers.items():
        answer = send(ctx, method, build(ctx, caller), token)
        want, got = expected(caller), _reason(answer)
        if answer.status_code >= 500:
            wrong.append(f"{label} as {caller}: {answer.status_code} {got}")
        elif want is None and not 200 <= answer.status_code < 300:
            wrong.append(f"{label} as {caller}: admitted, got {answer.status_code} {got}")
        elif want is not None and (got != want or answer.status_code < 400):
            wrong.append(f"{label} as {caller}: want {want}, got {answer.status_code} {got}")
    return wrong


@pytest.fixture
def ctx(app, client, world, soft_card) -> Ctx:
    # Requests that queue a task (allocations, CRLs) send it to an in-memory broker; a
    # result backend in the test's database would wait on the test's open transaction.
    app.config.update(BROKER_URL="memory://", RESULT_BACKEND="cache+memory://")
    celery_init_app(app)
    return Ctx(app, client, world, soft_card)


def test_the_catalogue_has_a_request_for_every_operation():
    missing = [op.endpoint for op in OPERATIONS
               if op.endpoint != SERVICE_ACTION and op.endpoint not in CATALOGUE]
    assert not missing


@pytest.mark.slow
def test_every_caller_gets_exactly_what_each_route_allows(ctx, callers):
    wrong = []
    for row in matrix_rows():
        wrong += check_row(ctx, row, callers)
    assert not wrong, "\n".join(wrong)
