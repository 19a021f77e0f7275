"""Each bad input from the issue is a specific 4xx reason, and nothing is written."""

import pytest

from backend.reasons import Reason
from backend.testing.services import ledger_snapshot

RICE = {"name": "Beras 5 kg", "category": "rice", "quantity": 1, "unit_price": 68_000}


@pytest.fixture
def shopper(citizen, household, fund):
    """A household head with 100,000 of grocery credit."""
    head = citizen()
    fund("food", "groceries", household(head=head, welfare_decile=2), 100_000)
    return head


def refused(answer, status, reason):
    assert answer.status_code == status, answer.json
    assert answer.json["error"]["reason"] == reason
    return answer.json["error"]


def test_unknown_programme(shopper, card_session, call_service):
    token = card_session(shopper, "pin", "agent")
    before = ledger_snapshot()
    refused(call_service(token, "casino", "redeem", {}), 404, Reason.UNKNOWN_SERVICE)
    assert ledger_snapshot() == before


def test_unknown_action(shopper, card_session, call_service):
    token = card_session(shopper, "pin", "agent")
    before = ledger_snapshot()
    error = refused(call_service(token, "food", "cash_out", {}), 404, Reason.UNKNOWN_ACTION)
    assert "redeem" in error["details"]["actions"]
    assert ledger_snapshot() == before


@pytest.mark.parametrize("amount", [0, -5_000])
def test_amount_not_above_zero(shopper, card_session, call_service, amount):
    token = card_session(shopper, "pin", "agent")
    before = ledger_snapshot()
    basket = {"items": [RICE], "amount": amount}
    refused(call_service(token, "food", "redeem", basket), 422, Reason.AMOUNT_INVALID)
    assert ledger_snapshot() == before


def test_amount_other_than_the_items_total(shopper, card_session, call_service):
    token = card_session(shopper, "pin", "agent")
    before = ledger_snapshot()
    basket = {"items": [RICE], "amount": 60_000}
    refused(call_service(token, "food", "redeem", basket), 422, Reason.AMOUNT_INVALID)
    assert ledger_snapshot() == before


def test_amount_above_the_cap(shopper, card_session, call_service):
    token = card_session(shopper, "pin", "agent")
    before = ledger_snapshot()
    basket = {"items": [{**RICE, "quantity": 4}], "amount": 272_000}
    refused(call_service(token, "food", "redeem", basket), 422, Reason.AMOUNT_ABOVE_CAP)
    assert ledger_snapshot() == before


def test_fare_above_the_cap_at_a_gate(citizen, household, fund, card_session, call_service):
    rider = citizen()
    household(head=rider, welfare_decile=2)
    fund("transport", "transit", rider, 150_000)
    token = card_session(rider, "tap", "gate")
    before = ledger_snapshot()
    refused(call_service(token, "transport", "fare", {"amount": 10_001}), 422,
            Reason.AMOUNT_ABOVE_CAP)
    assert ledger_snapshot() == before


def test_wrong_assurance(shopper, card_session, call_service):
    token = card_session(shopper, "tap", "agent")
    before = ledger_snapshot()
    refused(call_service(token, "food", "redeem", {"items": [RICE], "amount": 68_000}), 403,
            Reason.ASSURANCE_TOO_LOW)
    assert ledger_snapshot() == before


def test_terminal_kind_not_allowed(shopper, card_session, call_service):
    token = card_session(shopper, "pin", "kiosk")
    before = ledger_snapshot()
    refused(call_service(token, "food", "redeem", {"items": [RICE], "amount": 68_000}), 403,
            Reason.TERMINAL_KIND_NOT_ALLOWED)
    assert ledger_snapshot() == before


def test_staff_role_not_allowed(shopper, staff_token, call_service):
    before = ledger_snapshot()
    refused(call_service(staff_token("clerk"), "food", "redeem",
                         {"items": [RICE], "amount": 68_000}), 403, Reason.ROLE_NOT_ALLOWED)
    assert ledger_snapshot() == before


def test_ineligible_citizen(citizen, household, fund, card_session, call_service):
    head = citizen()
    fund("food", "groceries", household(head=head, welfare_decile=7), 100_000)
    token = card_session(head, "pin", "agent")
    before = ledger_snapshot()
    error = refused(call_service(token, "food", "redeem", {"items": [RICE], "amount": 68_000}),
                    403, Reason.NOT_ELIGIBLE)
    assert error["details"]["eligibility"] == "decile_above_threshold"
    assert ledger_snapshot() == before


def test_exhausted_balance(shopper, card_session, call_service):
    token = card_session(shopper, "pin", "agent")
    two_bags = {"items": [RICE], "amount": 68_000}
    assert call_service(token, "food", "redeem", two_bags).status_code == 200
    before = ledger_snapshot()
    error = refused(call_service(token, "food", "redeem", two_bags), 409,
                    Reason.INSUFFICIENT_BALANCE)
    assert error["details"]["balance"] == 32_000
    assert ledger_snapshot() == before


def test_category_outside_the_purse(shopper, card_session, call_service):
    token = card_session(shopper, "pin", "agent")
    before = ledger_snapshot()
    cigarettes = {"name": "Rokok", "category": "tobacco", "quantity": 1, "unit_price": 30_000}
    error = refused(call_service(token, "food", "redeem",
                                 {"items": [cigarettes], "amount": 30_000}), 422,
                    Reason.CATEGORY_NOT_ALLOWED)
    assert error["details"]["categories"] == ["tobacco"]
    assert ledger_snapshot() == before


def test_idempotency_key_reused_with_other_parameters(shopper, card_session, call_service):
    token = card_session(shopper, "pin", "agent")
    first = call_service(token, "food", "redeem", {"items": [RICE], "amount": 68_000},
                         idempotency_key="basket-0001")
    assert first.status_code == 200
    before = ledger_snapshot()
    other = {"items": [{**RICE, "unit_price": 10_000}], "amount": 10_000}
    refused(call_service(token, "food", "redeem", other, idempotency_key="basket-0001"), 422,
            Reason.IDEMPOTENCY_KEY_REUSED)
    assert ledger_snapshot() == before


def test_mutating_action_without_idempotency_key(shopper, card_session, call_service):
    token = card_session(shopper, "pin", "agent")
    before = ledger_snapshot()
    refused(call_service(token, "food", "redeem", {"items": [RICE], "amount": 68_000},
                         idempotency_key=None), 400, Reason.IDEMPOTENCY_KEY_REQUIRED)
    assert ledger_snapshot() == before


def test_malformed_idempotency_key_is_refused_even_where_none_is_needed(shopper, card_session,
                                                                        call_service):
    token = card_session(shopper, "tap", "kiosk")
    refused(call_service(token, "food", "balance", idempotency_key="short"), 400,
            Reason.VALIDATION_FAILED)
    assert call_service(token, "food", "balance", idempotency_key=None).status_code == 200


@pytest.mark.parametrize("body, reason", [
    (b"{not json", Reason.MALFORMED_JSON),
    (b'["a list"]', Reason.VALIDATION_FAILED),
    (b'{"items": [], "amount": 1}', Reason.VALIDATION_FAILED),
    (b'{"items": "rice", "amount": 1}', Reason.VALIDATION_FAILED),
    (b'{"items": [{"name": "x", "category": "rice", "quantity": 1, "unit_price": 1}], '
     b'"amount": 1, "tip": 5}', Reason.UNKNOWN_FIELD),
    (b'{"amount": "a lot", "items": []}', Reason.VALIDATION_FAILED),
])
def test_malformed_body_is_a_400_not_a_500(shopper, card_session, client, body, reason):
    token = card_session(shopper, "pin", "agent")
    before = ledger_snapshot()
    answer = client.post("/api/v1/services/food/redeem", data=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        "Idempotency-Key": "malformed-0001"})
    refused(answer, 400, reason)
    assert ledger_snapshot() == before
