"""The services API: what a terminal may list, replays, and module lookup."""

import json

import pytest
from sqlalchemy import select

from backend.app import create_app
from backend.audit.models import AuditRecord
from backend.db import session
from backend.errors import ApiError
from backend.reasons import Reason
from backend.services.authorise import find_action
from backend.testing.services import ledger_snapshot

RICE = {"name": "Beras 5 kg", "category": "rice", "quantity": 1, "unit_price": 68_000}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def family(citizen, household, fund):
    head = citizen()
    home = household(head=head, welfare_decile=2)
    fund("food", "groceries", home, 100_000)
    return head, home


def programmes(client, token):
    answer = client.get("/api/v1/services", headers=bearer(token))
    assert answer.status_code == 200, answer.json
    return {p["key"]: p for p in answer.json["programmes"]}


def test_kiosk_lists_every_enabled_programme(family, card_session, client):
    listed = programmes(client, card_session(family[0], "tap", "kiosk"))
    assert set(listed) >= {"food", "health", "education", "family_hope", "transport",
                           "elderly"}


def test_ineligible_programme_is_listed_with_its_reason(family, card_session, client):
    listed = programmes(client, card_session(family[0], "tap", "kiosk"))
    assert listed["elderly"]["eligible"] is False
    assert listed["elderly"]["reason"] == "under_age"


def test_a_tap_shows_balances_but_not_transactions(family, card_session, client):
    food = programmes(client, card_session(family[0], "tap", "kiosk"))["food"]
    assert food["balances"] == {"groceries": 100_000}
    assert "recent" not in food and "overview" not in food and "details" not in food


def test_a_pin_session_shows_recent_transactions(family, card_session, client):
    food = programmes(client, card_session(family[0], "pin", "kiosk"))["food"]
    assert [line["kind"] for line in food["recent"]] == ["credit"]
    assert food["recent"][0]["amount"] == 100_000


def test_a_gate_sees_only_the_programmes_it_serves(family, card_session, client):
    listed = programmes(client, card_session(family[0], "tap", "gate"))
    assert set(listed) == {"transport"}


def test_listing_needs_a_card_session(terminal, client):
    answer = client.get("/api/v1/services", headers=bearer(terminal("kiosk").token))
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.FORBIDDEN


def test_listing_is_recorded_as_a_read_of_the_holders_data(family, card_session, client):
    programmes(client, card_session(family[0], "tap", "kiosk"))
    reads = session().scalars(select(AuditRecord).where(
        AuditRecord.citizen_id == family[0].id, AuditRecord.action == "citizen.data.read"))
    assert any("programmes" in (r.purpose or "") for r in reads)


def test_replay_returns_the_first_answer_and_debits_once(family, card_session,
                                                         call_service):
    token = card_session(family[0], "pin", "agent")
    basket = {"items": [RICE], "amount": 68_000}
    first = call_service(token, "food", "redeem", basket, idempotency_key="replay-0001")
    after_first = ledger_snapshot()
    again = call_service(token, "food", "redeem", basket, idempotency_key="replay-0001")
    assert again.status_code == 200 and again.json == first.json
    assert ledger_snapshot() == after_first


def test_a_redemption_is_audited_once_with_its_purpose(family, card_session, call_service):
    token = card_session(family[0], "pin", "agent")
    basket = {"items": [RICE], "amount": 68_000}
    first = call_service(token, "food", "redeem", basket, idempotency_key="audit-0001")
    call_service(token, "food", "redeem", basket, idempotency_key="audit-0001")
    records = session().scalars(select(AuditRecord).where(
        AuditRecord.action == "service.food.redeem", AuditRecord.outcome == "ok",
        AuditRecord.citizen_id == family[0].id)).all()
    assert len(records) == 1
    assert records[0].purpose == "food assistance redemption at an agent shop"
    assert json.loads(records[0].details)["entry_id"] == first.json["entry_id"]


def test_the_same_key_from_another_terminal_is_another_request(family, card_session,
                                                               call_service):
    basket = {"items": [RICE], "amount": 68_000}
    first = call_service(card_session(family[0], "pin", "agent"), "food", "redeem", basket,
                         idempotency_key="shared-0001")
    second = call_service(card_session(family[0], "pin", "agent"), "food", "redeem", basket,
                          idempotency_key="shared-0001")
    assert first.status_code == 200
    assert second.status_code == 409  # a real second purchase: the credit is short
    assert second.json["error"]["reason"] == Reason.INSUFFICIENT_BALANCE


def test_a_non_mutating_action_needs_no_key(family, card_session, call_service):
    answer = call_service(card_session(family[0], "tap", "kiosk"), "food", "balance",
                          idempotency_key=None)
    assert answer.status_code == 200 and answer.json["balance"] == 100_000


def test_a_module_installed_but_not_enabled_is_refused_as_disabled(db_url, instance_dir):
    only_food = create_app(DATABASE_URL=db_url, INSTANCE_DIR=str(instance_dir),
                           SECRET_KEY="x" * 32, SERVICES=("food",))
    with only_food.app_context():
        with pytest.raises(ApiError) as refused:
            find_action("health", "coverage")
        assert refused.value.reason == Reason.SERVICE_DISABLED
        with pytest.raises(ApiError) as unknown:
            find_action("casino", "spin")
        assert unknown.value.reason == Reason.UNKNOWN_SERVICE
