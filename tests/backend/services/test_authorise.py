"""Who may run an action is its declaration, checked by the guard every endpoint uses."""

from enum import StrEnum

import pytest

from backend.auth.principal import CardContext, Principal
from backend.errors import ApiError
from backend.reasons import Reason
from backend.services import Action, ServiceModule, refuse
from backend.services.authorise import authorise, requirement_of
from backend.services.perform import _run

REDEEM = Action(lambda ctx, data: {}, purpose="redeem", assurance="pin",
                terminal_kinds=("agent",), staff_roles=("clerk",))


def card(kind: str, assurance: str) -> Principal:
    return Principal("card", "SERIAL", kind, "T-1",
                     card=CardContext("s", "SERIAL", 42, assurance, "T-1"))


def refusal(principal: Principal) -> ApiError:
    with pytest.raises(ApiError) as caught:
        authorise(REDEEM, principal)
    return caught.value


def test_the_requirement_is_built_once_from_the_declaration():
    needed = requirement_of(REDEEM)
    assert (needed.roles, needed.terminal_kinds, needed.card, needed.assurance) == (
        ("clerk",), ("agent",), True, "pin")
    assert requirement_of(REDEEM) is needed


def test_a_card_session_serves_its_holder():
    assert authorise(REDEEM, card("agent", "pin")) == 42


def test_staff_act_without_a_card_session_and_serve_no_citizen():
    assert authorise(REDEEM, Principal("staff", "siti", "clerk")) is None


def test_a_role_not_declared_is_told_which_are():
    error = refusal(Principal("staff", "budi", "auditor"))
    assert (error.reason, error.details) == (Reason.ROLE_NOT_ALLOWED, {"allowed": ["clerk"]})


def test_a_terminal_kind_not_declared_is_told_which_are():
    error = refusal(card("gate", "pin"))
    assert (error.reason, error.details) == (Reason.TERMINAL_KIND_NOT_ALLOWED,
                                             {"allowed": ["agent"]})


def test_a_terminal_without_a_card_session_is_refused():
    assert refusal(Principal("terminal", "T-1", "agent", "T-1")).reason == Reason.FORBIDDEN


def test_a_tap_is_told_the_pin_is_needed():
    error = refusal(card("agent", "tap"))
    assert (error.reason, error.details) == (Reason.ASSURANCE_TOO_LOW, {"needed": "pin"})


class Undeclared(StrEnum):
    PRINTER_JAMMED = "printer_jammed"


def test_a_refusal_with_a_reason_the_module_did_not_declare_is_an_internal_error():
    def jammed(ctx, data):
        refuse(Undeclared.PRINTER_JAMMED, "jammed")

    with pytest.raises(ApiError) as caught:
        _run(ServiceModule(), Action(jammed, purpose="print"), None, None)
    assert (caught.value.reason, caught.value.status) == (Reason.INTERNAL_ERROR, 500)
