"""The programmes' HTTP API: what a card holder has, and running an action."""

from __future__ import annotations

from typing import Any

from flask import request
from pydantic import BaseModel

from backend.api.routing import Api, Header, parse_body
from backend.auth.principal import STAFF_ROLES, TERMINAL_KINDS, Requirement, current_principal
from backend.ledger import idempotency
from backend.reasons import Reason
from backend.services.holder_view import ServicesOut, programmes_for
from backend.services.interface import Action, NoInput
from backend.services.perform import perform

api = Api("services", url_prefix="/services", tag="services")
# Any caller may reach an action's URL; who may run it is the action's own
# requirement, checked by `perform` (`backend.services.authorise`).
ANY_CALLER = Requirement(roles=STAFF_ROLES, terminal_kinds=TERMINAL_KINDS)
CARD_HOLDER = Requirement(terminal_kinds=TERMINAL_KINDS, card=True, assurance="tap")


@api.route("", summary="The card holder's programmes: eligibility, balances, recent use",
           auth=CARD_HOLDER, response=ServicesOut)
def list_services() -> ServicesOut:
    """What this terminal may show: kiosks and counters list every enabled programme,
    agent shops and gates only those they serve. A tap shows eligibility and balances;
    the citizen at a kiosk after the PIN sees their statement (recent movements,
    programme details such as clinic and school); an agent shop or gate after the PIN
    sees only its own sales to the holder (see `backend.audiences`)."""
    principal = current_principal()
    assert principal is not None
    return programmes_for(principal)


IDEMPOTENCY_KEY = Header(
    "Idempotency-Key", "Required by actions that change anything: a replay with the same "
    "key and body returns the first answer; the same key with another body is refused.",
    pattern=idempotency.KEY_SHAPE.pattern)


@api.route("/<key>/<action_name>", "POST", summary="Run a programme's action",
           auth=ANY_CALLER, reasons=(
               Reason.UNKNOWN_SERVICE, Reason.SERVICE_DISABLED, Reason.UNKNOWN_ACTION,
               Reason.ASSURANCE_TOO_LOW, Reason.TERMINAL_KIND_NOT_ALLOWED,
               Reason.ROLE_NOT_ALLOWED, Reason.IDEMPOTENCY_KEY_REQUIRED,
               Reason.IDEMPOTENCY_KEY_REUSED, Reason.NOT_ELIGIBLE, Reason.DUPLICATE_RECORD,
               Reason.AMOUNT_INVALID,
               Reason.AMOUNT_ABOVE_CAP, Reason.INSUFFICIENT_BALANCE, Reason.CREDIT_EXPIRED,
               Reason.CATEGORY_NOT_ALLOWED, Reason.PURSE_NOT_CASHABLE),
           headers=(IDEMPOTENCY_KEY,))
def run_action(key: str, action_name: str) -> Any:
    """The body is the action's input schema (see the module's documentation); a
    mutating action needs an `Idempotency-Key` header, and a replay with the same key
    and body returns the first answer."""
    principal = current_principal()
    assert principal is not None
    return perform(principal, key, action_name, request.headers.get("Idempotency-Key"),
                   _input)


def _input(action: Action) -> BaseModel:
    if action.input is NoInput and not request.get_data():
        return NoInput()
    return parse_body(action.input)
