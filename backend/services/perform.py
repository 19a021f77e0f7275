"""Running a programme's action: the one path for the API and every screen.

Every action runs the same way: authorise (card assurance, terminal kind, staff role),
claim the idempotency key, refuse a record found to be a duplicate, check eligibility,
run the handler, write the audit record, remember the answer; all in the request's one
transaction, committed by the API wrapper, or rolled back whole on any refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from backend.audit import record
from backend.auth.principal import Principal
from backend.db import session
from backend.errors import ApiError
from backend.ledger import idempotency
from backend.observability.metrics import count_service_action
from backend.reasons import Reason
from backend.services.authorise import (
    authorise,
    find_action,
    refuse_duplicate,
    require_eligible,
)
from backend.services.context import HubContext
from backend.services.interface import Action, ServiceModule, result

log = logging.getLogger(__name__)


def perform(principal: Principal, key: str, action_name: str, key_header: str | None,
            read_input: Callable[[Action], BaseModel]) -> tuple[dict[str, Any], int]:
    """Run one action for `principal` in the request's transaction (not committed here).

    The API and the screens both come through here, so a page can add no rule of its
    own: `read_input` is how the caller's input becomes the action's model (the API
    parses the JSON body; a screen builds it from what it already knows). Counted here
    for the same reason."""
    try:
        answer = _perform(principal, key, action_name, key_header, read_input)
    except ApiError as error:
        count_service_action(key, action_name, error.reason.value)
        raise
    count_service_action(key, action_name, "ok")
    return answer


def _perform(principal: Principal, key: str, action_name: str, key_header: str | None,
             read_input: Callable[[Action], BaseModel]) -> tuple[dict[str, Any], int]:
    module, action = find_action(key, action_name)
    citizen_id = authorise(action, principal)
    if action.mutating or key_header is not None:  # a malformed key is refused everywhere
        key_header = idempotency.check_shape(key_header)
    data = read_input(action)
    sess = session()
    scope = f"{principal.kind}:{principal.terminal_id or principal.subject}"
    if action.mutating:
        assert key_header is not None  # check_shape refused a mutating call without one
        digest = idempotency.request_hash(key, action_name, citizen_id,
                                          data.model_dump(mode="json"))
        replay = idempotency.claim(sess, scope, key_header, digest)
        if replay is not None:
            return replay.response, replay.status
    ctx = HubContext(sess, module, principal, citizen_id)
    refuse_duplicate(ctx)
    if citizen_id is not None and action.eligible_only:
        require_eligible(module, ctx)
    answer = _run(module, action, ctx, data)
    _audit(module, action_name, action, principal, citizen_id, answer)
    if action.mutating:
        assert key_header is not None  # (as above)
        idempotency.remember(sess, scope, key_header, 200, answer)
    return dict(answer), 200


def _run(module: ServiceModule, action: Action, ctx: HubContext, data: BaseModel
         ) -> dict[str, Any]:
    """The handler's answer; a refusal with a reason the module did not declare is the
    module's defect, answered as an internal error rather than an unknown code."""
    try:
        return result(action.handler(ctx, data))
    except ApiError as error:
        if isinstance(error.reason, Reason) or (
                module.reasons is not None and isinstance(error.reason, module.reasons)):
            raise
        log.error("%s refused with an undeclared reason %r", module.key, error.reason)
        raise ApiError(Reason.INTERNAL_ERROR, "the programme refused without a declared "
                       "reason", 500) from error


def _audit(module: ServiceModule, name: str, action: Action, principal: Principal,
           citizen_id: int | None, answer: Mapping[str, Any]) -> None:
    details = {k: answer[k] for k in ("entry_id", "amount", "receipt") if k in answer}
    record(session(), action=f"service.{module.key}.{name}", subject_type="citizen",
           subject_id=str(citizen_id) if citizen_id is not None else None,
           purpose=action.purpose, details=details, principal=principal,
           citizen_id=citizen_id)
