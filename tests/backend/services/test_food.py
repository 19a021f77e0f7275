"""Food assistance end to end: allocation, redemption at an agent shop, balance at a kiosk."""

from backend.reasons import Reason

BASKET = {"items": [{"name": "Beras 5 kg", "category": "rice", "quantity": 1,
                     "unit_price": 68_000},
                    {"name": "Telur 1 kg", "category": "eggs", "quantity": 2,
                     "unit_price": 28_000}],
          "amount": 124_000}


def test_allocation_credits_a_low_decile_household(citizen, household, allocate_now,
                                                   card_session, client):
    head = citizen()
    household(head=head, welfare_decile=2)
    allocate_now("food")
    token = card_session(head, assurance="tap", terminal_kind="kiosk")
    listed = client.get("/api/v1/services", headers={"Authorization": f"Bearer {token}"})
    food = next(p for p in listed.json["programmes"] if p["key"] == "food")
    assert food["eligible"] and food["balances"] == {"groceries": 200_000}


def test_agent_redeems_a_basket_with_pin(citizen, household, allocate_now, card_session,
                                         call_service):
    head = citizen()
    household(head=head, welfare_decile=2)
    allocate_now("food")
    token = card_session(head, assurance="pin", terminal_kind="agent")
    answer = call_service(token, "food", "redeem", BASKET)
    assert answer.status_code == 200, answer.json
    assert answer.json["amount"] == 124_000 and answer.json["balance_after"] == 76_000


def test_redemption_with_a_tap_is_refused(citizen, household, fund, card_session,
                                          call_service):
    head = citizen()
    fund("food", "groceries", household(head=head, welfare_decile=2), 200_000)
    token = card_session(head, assurance="tap", terminal_kind="agent")
    answer = call_service(token, "food", "redeem", BASKET)
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ASSURANCE_TOO_LOW
