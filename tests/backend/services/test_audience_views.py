"""Who sees what of a household's programmes (`backend.audiences`).

One household with the month's food allocation and a basket bought at each of two shops,
read through `GET /api/v1/services` by every audience. The key sets are written out here,
not imported: a field added to a programme entry or a ledger line, or put on an
audience's list, fails these tests until someone decides who should see it.
"""

import json

import pytest

from backend.audiences import AUDIENCES, TAP, audience_of

BASE = {"key", "title", "eligible", "reason", "balances", "actions"}
CITIZEN_PROGRAMME = BASE | {"details", "overview", "recent"}
CITIZEN_LINE = {"entry_id", "purse", "kind", "amount", "balance_after", "period",
                "terminal_id", "at", "details"}
SHOP_PROGRAMME = BASE | {"recent"}
SHOP_LINE = {"entry_id", "purse", "kind", "amount", "at", "details"}
LINE_DETAILS = {"items", "route"}
TOP = {"citizen_id", "language", "programmes"}


def basket(name, category, price):
    return {"items": [{"name": name, "category": category, "quantity": 1,
                       "unit_price": price}], "amount": price}


SHOP_A_BASKET = basket("Beras Toko Anggrek", "rice", 60_000)
SHOP_B_BASKET = basket("Telur Toko Bougenvil", "eggs", 30_000)


@pytest.fixture
def bought(citizen, household, allocate_now, terminal, card_session_at, call_service):
    """The household's head, the allocation, and a sale at each of two agent shops."""
    head = citizen()
    household(head=head, welfare_decile=2)
    allocate_now("food")
    shop_a, shop_b = terminal("agent"), terminal("agent")
    for shop, sale in ((shop_a, SHOP_A_BASKET), (shop_b, SHOP_B_BASKET)):
        answer = call_service(card_session_at(head, shop, "pin"), "food", "redeem", sale)
        assert answer.status_code == 200, answer.json
    return head, shop_a, shop_b


def read(client, token):
    answer = client.get("/api/v1/services", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.json
    assert set(answer.json) == TOP
    return answer.json, {p["key"]: p for p in answer.json["programmes"]}


def test_a_tap_at_a_kiosk_shows_programmes_and_balances_only(bought, terminal,
                                                             card_session_at, client):
    head, _, _ = bought
    body, listed = read(client, card_session_at(head, terminal("kiosk"), "tap"))
    assert listed["food"]["balances"] == {"groceries": 110_000}
    for programme in listed.values():
        assert set(programme) == BASE, programme["key"]
    assert "grants" not in json.dumps(body)


def test_the_citizen_after_the_pin_sees_their_statement(bought, terminal, card_session_at,
                                                       client):
    head, shop_a, shop_b = bought
    body, listed = read(client, card_session_at(head, terminal("kiosk"), "pin"))
    for programme in listed.values():
        assert set(programme) == CITIZEN_PROGRAMME, programme["key"]
        for line in programme["recent"]:
            assert set(line) == CITIZEN_LINE
            assert set(line["details"]) <= LINE_DETAILS
    food = listed["food"]
    assert [line["kind"] for line in food["recent"]] == ["spend", "spend", "grant"]
    assert [line["terminal_id"] for line in food["recent"]] == [
        shop_b.terminal_id, shop_a.terminal_id, None]
    assert food["recent"][0]["details"]["items"][0]["name"] == "Telur Toko Bougenvil"
    assert food["recent"][2]["details"] == {}  # the batch's count of grants is the hub's
    assert food["recent"][2]["period"] and food["recent"][2]["balance_after"] == 200_000
    assert "grants" not in json.dumps(body)


def test_a_shop_sees_only_its_own_sales(bought, card_session_at, client):
    head, shop_a, shop_b = bought
    body, listed = read(client, card_session_at(head, shop_a, "pin"))
    for programme in listed.values():
        assert set(programme) == SHOP_PROGRAMME, programme["key"]
        for line in programme["recent"]:
            assert set(line) == SHOP_LINE
            assert set(line["details"]) <= LINE_DETAILS
    food = listed["food"]
    assert food["balances"] == {"groceries": 110_000} and "redeem" in food["actions"]
    assert len(food["recent"]) == 1
    assert food["recent"][0]["amount"] == -60_000
    assert food["recent"][0]["details"]["items"] == SHOP_A_BASKET["items"]
    text = json.dumps(body)
    for other in (shop_b.terminal_id, "Telur Toko Bougenvil", "grants", "grant"):
        assert other not in text, other


def test_the_other_shop_sees_its_own_sale_and_not_the_first(bought, card_session_at,
                                                           client):
    head, shop_a, shop_b = bought
    body, listed = read(client, card_session_at(head, shop_b, "pin"))
    assert [line["details"]["items"][0]["name"] for line in listed["food"]["recent"]] == [
        "Telur Toko Bougenvil"]
    assert shop_a.terminal_id not in json.dumps(body)
    assert "Beras Toko Anggrek" not in json.dumps(body)


def test_a_shop_that_sold_nothing_sees_no_lines(bought, terminal, card_session_at, client):
    head, _, _ = bought
    _, listed = read(client, card_session_at(head, terminal("agent"), "pin"))
    assert listed["food"]["recent"] == []
    assert listed["food"]["balances"] == {"groceries": 110_000}


def test_a_tap_at_a_shop_shows_balances_only(bought, card_session_at, client):
    head, shop_a, _ = bought
    _, listed = read(client, card_session_at(head, shop_a, "tap"))
    for programme in listed.values():
        assert set(programme) == BASE, programme["key"]


def test_a_clerk_at_a_counter_sees_what_the_counter_needs(bought, terminal, card_session_at,
                                                         client):
    head, shop_a, shop_b = bought
    body, listed = read(client, card_session_at(head, terminal("counter"), "pin"))
    assert {"food", "health", "education"} <= set(listed)
    for programme in listed.values():
        assert set(programme) == BASE, programme["key"]
    assert listed["food"]["balances"] == {"groceries": 110_000}
    text = json.dumps(body)
    for hidden in (shop_a.terminal_id, shop_b.terminal_id, "Beras", "grants"):
        assert hidden not in text, hidden


def test_every_audience_is_named_and_anything_else_sees_a_taps_view():
    assert {(kind, assurance) for kind, assurance in AUDIENCES} == {
        (kind, assurance) for kind in ("kiosk", "agent", "gate", "counter")
        for assurance in ("tap", "pin")}
    assert audience_of("desk", "pin") is TAP
    assert audience_of(None, None) is TAP
