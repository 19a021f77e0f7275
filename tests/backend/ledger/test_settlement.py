"""An agent's daily settlement matches the ledger exactly."""

import datetime as dt

from sqlalchemy import select

from backend.db import session
from backend.ledger.models import Account
from backend.reasons import Reason
from backend.testing.services import ledger_totals

RICE = {"name": "Beras 5 kg", "category": "rice", "quantity": 1, "unit_price": 20_000}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def today(app):
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(app.config["CITY_TIMEZONE"])).date()


def shop_day(citizen, household, fund, terminal, card_session_at, call_service, baskets):
    """An agent shop that served one household per basket today."""
    shop = terminal("agent")
    receipts = []
    for quantity in baskets:
        head = citizen()
        fund("food", "groceries", household(head=head, welfare_decile=1), 200_000)
        answer = call_service(card_session_at(head, shop), "food", "redeem",
                              {"items": [{**RICE, "quantity": quantity}],
                               "amount": 20_000 * quantity})
        assert answer.status_code == 200, answer.json
        receipts.append(answer.json)
    return shop, receipts


def takings_account(shop):
    return session().scalar(select(Account).where(
        Account.owner_type == "terminal", Account.owner_ref == shop.terminal_id))


def test_settlement_pays_out_exactly_the_days_redemptions(app, client, citizen, household,
                                                          fund, terminal, card_session_at,
                                                          call_service, staff_token):
    shop, receipts = shop_day(citizen, household, fund, terminal, card_session_at,
                              call_service, [1, 3, 2])
    answer = client.post("/api/v1/ledger/settlements", headers=bearer(staff_token("admin")),
                         json={"terminal_id": shop.terminal_id, "day": str(today(app))})
    assert answer.status_code == 201, answer.json
    [food] = answer.json["settled"]
    assert food["amount"] == sum(r["amount"] for r in receipts) == 120_000
    assert food["entries"] == [r["entry_id"] for r in receipts]
    assert takings_account(shop).balance == 0
    assert ledger_totals() == {"unbalanced": 0, "negative": 0, "drift": 0}


def test_a_day_is_settled_once(app, client, citizen, household, fund, terminal,
                               card_session_at, call_service, staff_token):
    shop, _ = shop_day(citizen, household, fund, terminal, card_session_at, call_service, [1])
    body = {"terminal_id": shop.terminal_id, "day": str(today(app))}
    admin = bearer(staff_token("admin"))
    assert client.post("/api/v1/ledger/settlements", headers=admin, json=body).status_code == 201
    again = client.post("/api/v1/ledger/settlements", headers=admin, json=body)
    assert again.status_code == 409
    assert again.json["error"]["reason"] == Reason.ALREADY_SETTLED


def test_the_shop_sees_its_own_takings(app, client, citizen, household, fund, terminal,
                                       card_session_at, call_service):
    shop, receipts = shop_day(citizen, household, fund, terminal, card_session_at,
                              call_service, [2, 1])
    answer = client.get(f"/api/v1/ledger/settlements/{shop.terminal_id}/{today(app)}",
                        headers=bearer(shop.token))
    assert answer.status_code == 200, answer.json
    assert answer.json["settled"][0]["amount"] == 60_000


def test_a_shop_cannot_see_another_shops_takings(app, client, citizen, household, fund,
                                                 terminal, card_session_at, call_service):
    shop, _ = shop_day(citizen, household, fund, terminal, card_session_at, call_service, [1])
    other = terminal("agent")
    answer = client.get(f"/api/v1/ledger/settlements/{shop.terminal_id}/{today(app)}",
                        headers=bearer(other.token))
    assert answer.status_code == 403 and answer.json["error"]["reason"] == Reason.FORBIDDEN
