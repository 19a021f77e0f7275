"""The programme endpoints, and what a disabled programme means at the terminals."""

import pytest

from backend.app import create_app
from backend.reasons import Reason
from backend.services.catalogue import modules
from backend.testing.identity import make_staff
from tests.backend.programmes.conftest import bearer, store_override

RICE = {"name": "Beras 5 kg", "category": "rice", "quantity": 1, "unit_price": 68_000}


@pytest.fixture
def family(citizen, household, fund):
    head = citizen()
    home = household(head=head, welfare_decile=2)
    fund("food", "groceries", home, 100_000)
    return head, home


def listed_at(client, token):
    answer = client.get("/api/v1/services", headers=bearer(token))
    assert answer.status_code == 200, answer.json
    return {p["key"] for p in answer.json["programmes"]}


def change(client, token, key, **body):
    return client.patch(f"/api/v1/programmes/{key}", json=body, headers=bearer(token))


def test_a_disabled_programme_disappears_from_the_kiosk(family, card_session, client,
                                                         admin_token):
    kiosk = card_session(family[0], "tap", "kiosk")
    assert "food" in listed_at(client, kiosk)
    assert change(client, admin_token, "food", enabled=False).status_code == 200
    assert "food" not in listed_at(client, kiosk)


def test_a_disabled_programmes_action_is_refused_as_disabled(family, card_session,
                                                             call_service, admin_token,
                                                             client):
    change(client, admin_token, "food", enabled=False)
    answer = call_service(card_session(family[0], "pin", "agent"), "food", "redeem",
                          {"items": [RICE], "amount": 68_000})
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.SERVICE_DISABLED


def test_enabled_again_the_programme_is_back_with_its_balance(family, card_session,
                                                              call_service, admin_token,
                                                              client):
    change(client, admin_token, "food", enabled=False)
    change(client, admin_token, "food", enabled=True)
    answer = call_service(card_session(family[0], "tap", "kiosk"), "food", "balance",
                          idempotency_key=None)
    assert answer.status_code == 200 and answer.json["balance"] == 100_000


@pytest.mark.postgres
def test_a_module_the_city_did_not_enable_can_be_enabled(fresh_pg_url, instance_dir):
    only_food = create_app(DATABASE_URL=fresh_pg_url, INSTANCE_DIR=str(instance_dir),
                           SECRET_KEY="x" * 32, SERVICES=("food",))
    try:
        with only_food.app_context():
            assert "health" not in modules()
            token = make_staff(only_food, "admin").token
            answer = change(only_food.test_client(), token, "health", enabled=True)
            assert answer.status_code == 200, answer.json
            assert answer.json["enabled"] and answer.json["enabled_source"] == "database"
        with only_food.app_context():
            assert "health" in modules()
    finally:
        only_food.extensions["satukartu.db"].engine.dispose()


def test_the_change_answers_the_programme_as_it_now_is(client, admin_token):
    answer = change(client, admin_token, "transport", enabled=False)
    assert answer.status_code == 200
    assert (answer.json["enabled"], answer.json["enabled_source"], answer.json["version"]) \
        == (False, "database", 1)


def test_an_amount_change_is_refused_pointing_to_the_approvals(client, admin_token):
    answer = change(client, admin_token, "food", parameters={"monthly_amount": 250_000})
    assert answer.status_code == 403
    error = answer.json["error"]
    assert error["reason"] == Reason.APPROVAL_REQUIRED
    assert error["details"] == {
        "kind": "programme.change", "submit_to": "/api/v1/approvals",
        "payload": {"key": "food", "enabled": None, "parameters": {"monthly_amount": "250000"}}}


def test_a_bad_value_is_refused_before_approval_is_asked(client, admin_token):
    answer = change(client, admin_token, "food", parameters={"monthly_amount": "banyak"})
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED
    assert answer.json["error"]["details"]["errors"][0]["field"] == "parameters.monthly_amount"


def test_nothing_to_change_is_refused(client, admin_token):
    answer = change(client, admin_token, "food")
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED


def test_an_auditor_reads_the_programmes_but_cannot_change_them(client, staff_token):
    auditor = staff_token("auditor")
    listed = client.get("/api/v1/programmes", headers=bearer(auditor))
    assert listed.status_code == 200
    food = next(p for p in listed.json["items"] if p["key"] == "food")
    amount = next(p for p in food["parameters"] if p["name"] == "monthly_amount")
    assert amount == {"name": "monthly_amount", "doc": "Monthly credit per household (rupiah).",
                      "value": "200000", "source": "default", "config_value": "200000",
                      "needs_approval": True, "stored": None, "ignored": None}
    refused = change(client, auditor, "food", enabled=False)
    assert refused.status_code == 403
    assert refused.json["error"]["reason"] == Reason.ROLE_NOT_ALLOWED


def test_an_unknown_programme_is_not_found(client, admin_token):
    answer = client.get("/api/v1/programmes/lottery", headers=bearer(admin_token))
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.UNKNOWN_SERVICE


def test_a_kiosk_is_served_while_a_stored_value_is_invalid(family, card_session, client):
    store_override("food", {"monthly_amount": "lots"})
    assert "food" in listed_at(client, card_session(family[0], "tap", "kiosk"))
