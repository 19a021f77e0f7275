"""Metrics: what they count, and who may read them."""

from __future__ import annotations

import pytest

from backend.reasons import Reason
from backend.testing.cards import authenticate
from backend.testing.identity import bearer
from tests.backend.observability.metrics_text import sample

OUTSIDE = {"REMOTE_ADDR": "203.0.113.5"}
METRICS = "/api/v1/metrics"


@pytest.fixture
def scrape(client, staff_token):
    admin = bearer(staff_token("admin"))

    def read() -> str:
        answer = client.get(METRICS, headers=admin, environ_base=OUTSIDE)
        assert answer.status_code == 200, answer.data[:500]
        return answer.get_data(as_text=True)

    return read


def test_a_card_authentication_is_counted_as_ok(app, client, scrape, soft_card, terminal):
    name = "satukartu_card_authentications_total"
    before = sample(scrape(), name, outcome="ok")
    answer = authenticate(client, terminal("kiosk").token, soft_card(), app.config["ORIGIN"])
    assert answer.status_code == 200, answer.json
    assert sample(scrape(), name, outcome="ok") == before + 1


def test_a_refused_card_authentication_is_counted_by_its_reason(client, scrape, terminal):
    before = scrape()
    answer = client.post("/api/v1/auth/token", json={"nonsense": True},
                         headers=bearer(terminal("kiosk").token))
    reason = answer.json["error"]["reason"]
    after = scrape()
    for name, labels in (("satukartu_card_authentications_total", {"outcome": reason}),
                         ("satukartu_refusals_total", {"reason": reason})):
        assert sample(after, name, **labels) == sample(before, name, **labels) + 1


def test_a_refusal_is_counted_by_its_reason(client, scrape, staff_token):
    name, labels = "satukartu_refusals_total", {"reason": Reason.ROLE_NOT_ALLOWED.value}
    before = sample(scrape(), name, **labels)
    answer = client.get("/api/v1/audit/records", headers=bearer(staff_token("agent")))
    assert answer.json["error"]["reason"] == Reason.ROLE_NOT_ALLOWED
    assert sample(scrape(), name, **labels) == before + 1


def test_a_service_action_is_counted_by_programme_action_and_outcome(
        scrape, call_service, card_session, citizen, household, fund):
    head = citizen()
    fund("food", "groceries", household(head=head, welfare_decile=2), 50_000)
    token = card_session(head, "tap")
    name = "satukartu_service_actions_total"
    ok = {"programme": "food", "action": "balance", "outcome": "ok"}
    before = scrape()
    assert call_service(token, "food", "balance", idempotency_key=None).status_code == 200
    answer = call_service(token, "food", "redeem", {})  # a kiosk's tap: never a payment
    refused = {"programme": "food", "action": "redeem",
               "outcome": answer.json["error"]["reason"]}
    after = scrape()
    assert sample(after, name, **ok) == sample(before, name, **ok) + 1
    assert sample(after, name, **refused) == sample(before, name, **refused) + 1


def test_made_up_programmes_and_actions_share_one_series(scrape, call_service, staff_token):
    token = staff_token("admin")
    call_service(token, "no-such-programme-1", "x")
    call_service(token, "food", "no-such-action-2")
    text = scrape()
    assert "no-such-programme-1" not in text and "no-such-action-2" not in text
    assert sample(text, "satukartu_service_actions_total", programme="unknown",
                  action="unknown", outcome=Reason.UNKNOWN_SERVICE.value) >= 1
    assert sample(text, "satukartu_service_actions_total", programme="food",
                  action="unknown", outcome=Reason.UNKNOWN_ACTION.value) >= 1


def test_latency_is_measured_by_route_rule_never_by_path(client, scrape, staff_token):
    client.get("/api/v1/cards/SERIAL-NOT-THERE-123", headers=bearer(staff_token("admin")))
    text = scrape()
    assert "SERIAL-NOT-THERE-123" not in text
    assert sample(text, "satukartu_request_duration_seconds_count",
                  endpoint="/api/v1/cards/<serial>", method="GET") >= 1


def test_the_audit_queue_depth_is_read_when_scraped(scrape):
    assert sample(scrape(), "satukartu_audit_queue_depth") == 0


def test_metrics_are_refused_to_a_kiosk_from_outside_the_allowed_networks(client, terminal):
    answer = client.get(METRICS, headers=bearer(terminal("kiosk").token), environ_base=OUTSIDE)
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.NETWORK_NOT_ALLOWED


def test_metrics_are_answered_to_an_admin_from_anywhere(client, staff_token):
    answer = client.get(METRICS, headers=bearer(staff_token("admin")), environ_base=OUTSIDE)
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain")


def test_metrics_are_answered_without_a_token_from_this_machine(client):
    assert client.get(METRICS, environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_a_listed_network_is_answered_and_the_rest_refused(app, client):
    app.config["METRICS_NETWORKS"] = ("10.20.0.0/16",)
    assert client.get(METRICS, environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200
    assert client.get(METRICS, environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 403


def test_a_forwarded_address_is_not_believed_without_a_trusted_proxy(client):
    answer = client.get(METRICS, headers={"X-Forwarded-For": "127.0.0.1"},
                        environ_base=OUTSIDE)
    assert answer.status_code == 403
