"""The approval and bulk endpoints: the same rule over HTTP, and what a screen needs to show."""

import csv
import io

import pytest

from backend.cards import lifecycle
from backend.db import session
from backend.reasons import Reason
from backend.testing.identity import bearer, make_staff

W = "/api/v1"


@pytest.fixture
def ask(client, admins, many_cards):
    """`ask(count=2, by=admins[0])` -> the JSON of a pending cards.revoke request."""
    def make(count=2, by=None):
        answer = client.post(f"{W}/approvals", headers=bearer((by or admins[0]).token), json={
            "kind": "cards.revoke", "payload": {"serials": many_cards(count),
                                                "reason": "keyCompromise"},
            "note": "cards reported stolen in one batch"})
        assert answer.status_code == 201, answer.json
        return answer.json
    return make


def _reason(answer):
    return answer.json["error"]["reason"]


def test_the_maker_is_refused_403_own_request(client, admins, ask):
    made = ask()
    answer = client.post(f"{W}/approvals/{made['id']}/approve", json={},
                         headers=bearer(admins[0].token))
    assert (answer.status_code, _reason(answer)) == (403, Reason.OWN_REQUEST)


def test_a_pending_request_says_it_needs_a_second_person_and_why_the_maker_cannot_decide(
        client, admins, ask):
    made = ask()
    assert made["needs_second_person"] is True
    assert made["can_decide"] is False
    assert made["cannot_decide"]["reason"] == Reason.OWN_REQUEST
    other = client.get(f"{W}/approvals/{made['id']}", headers=bearer(admins[1].token)).json
    assert (other["can_decide"], other["cannot_decide"]) == (True, None)
    assert admins[0].username in other["waiting_for"]


def test_an_auditor_reads_requests_but_cannot_decide_them(app, client, ask):
    made = ask()
    auditor = make_staff(app, "auditor").token
    shown = client.get(f"{W}/approvals/{made['id']}", headers=bearer(auditor))
    assert shown.status_code == 200
    assert shown.json["cannot_decide"]["reason"] == Reason.ROLE_NOT_ALLOWED
    answer = client.post(f"{W}/approvals/{made['id']}/approve", json={}, headers=bearer(auditor))
    assert (answer.status_code, _reason(answer)) == (403, Reason.ROLE_NOT_ALLOWED)


def test_deciding_a_decided_request_is_409_not_pending(client, admins, ask):
    made = ask()
    first = client.post(f"{W}/approvals/{made['id']}/reject", json={"comment": "not these"},
                        headers=bearer(admins[1].token))
    assert first.json["status"] == "rejected"
    again = client.post(f"{W}/approvals/{made['id']}/approve", json={},
                        headers=bearer(admins[2].token))
    assert (again.status_code, _reason(again)) == (409, Reason.APPROVAL_NOT_PENDING)


def test_handing_a_request_to_its_maker_is_refused(client, admins, ask):
    made = ask()
    answer = client.post(f"{W}/approvals/{made['id']}/assign", json={"to": admins[0].username},
                         headers=bearer(admins[1].token))
    assert (answer.status_code, _reason(answer)) == (422, Reason.ASSIGNEE_INVALID)


def test_pending_requests_are_listed_first(client, admins, ask):
    decided, waiting = ask(), ask()
    client.post(f"{W}/approvals/{decided['id']}/reject", json={"comment": "no"},
                headers=bearer(admins[1].token))
    later = ask()
    listed = client.get(f"{W}/approvals", headers=bearer(admins[1].token)).json["items"]
    ids = [item["id"] for item in listed]
    assert ids.index(waiting["id"]) < ids.index(later["id"]) < ids.index(decided["id"])


def test_a_few_cards_are_revoked_at_once_and_unknown_serials_are_downloadable_failures(
        client, admins, many_cards):
    serials = many_cards(2)
    answer = client.post(f"{W}/cards/bulk-revoke", headers=bearer(admins[0].token), json={
        "serials": [*serials, "ZZZZ-0000-ZZZZ"], "reason": "keyCompromise"})
    assert answer.status_code == 202, answer.json
    job = answer.json["job"]
    assert (answer.json["outcome"], job["status"], job["done"], job["failed"]) == (
        "done", "finished", 2, 1)
    assert {lifecycle.get_card(session(), s).status for s in serials} == {"revoked"}
    failures = client.get(job["failures_csv"], headers=bearer(admins[1].token))
    assert failures.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(failures.get_data(as_text=True))))
    assert rows == [{"row": "3", "key": "ZZZZ-0000-ZZZZ", "reason": "not_found",
                     "message": "no card with this serial"}]


def test_more_than_the_threshold_becomes_a_request_and_revokes_nothing(
        app, client, admins, many_cards):
    serials = many_cards(app.config["APPROVAL_REVOKE_THRESHOLD"] + 1)
    answer = client.post(f"{W}/cards/bulk-revoke", headers=bearer(admins[0].token),
                         json={"serials": serials, "reason": "keyCompromise"})
    assert answer.status_code == 202
    assert answer.json["outcome"] == "awaiting_approval" and answer.json["job"] is None
    assert answer.json["approval"]["needs_second_person"] is True
    assert {lifecycle.get_card(session(), s).status for s in serials} == {"active"}


def test_an_approved_revocation_sent_with_another_list_is_refused(
        app, client, admins, many_cards):
    app.config.update(BROKER_URL="memory://", RESULT_BACKEND="cache+memory://")
    serials = many_cards(app.config["APPROVAL_REVOKE_THRESHOLD"] + 1)
    asked = client.post(f"{W}/cards/bulk-revoke", headers=bearer(admins[0].token),
                        json={"serials": serials, "reason": "keyCompromise"}).json["approval"]
    client.post(f"{W}/approvals/{asked['id']}/approve", json={},
                headers=bearer(admins[1].token))
    answer = client.post(f"{W}/cards/bulk-revoke", headers=bearer(admins[0].token), json={
        "serials": serials[:-1], "reason": "keyCompromise", "approval_id": asked["id"]})
    assert (answer.status_code, _reason(answer)) == (409, Reason.APPROVAL_MISMATCH)
    shown = client.get(f"{W}/approvals/{asked['id']}", headers=bearer(admins[0].token)).json
    assert shown["status"] == "approved"


def test_the_approved_revocation_is_carried_out_as_a_queued_job(
        app, client, admins, many_cards):
    from backend.tasks import celery_init_app

    app.config.update(BROKER_URL="memory://", RESULT_BACKEND="cache+memory://")
    celery_init_app(app)
    serials = many_cards(app.config["APPROVAL_REVOKE_THRESHOLD"] + 1)
    asked = client.post(f"{W}/cards/bulk-revoke", headers=bearer(admins[0].token),
                        json={"serials": serials, "reason": "keyCompromise"}).json["approval"]
    client.post(f"{W}/approvals/{asked['id']}/approve", json={},
                headers=bearer(admins[1].token))
    answer = client.post(f"{W}/cards/bulk-revoke", headers=bearer(admins[0].token), json={
        "serials": serials, "reason": "keyCompromise", "approval_id": asked["id"]})
    assert answer.status_code == 202, answer.json
    assert (answer.json["outcome"], answer.json["job"]["status"]) == ("queued", "queued")
    assert answer.json["job"]["approval_id"] == asked["id"]
    shown = client.get(f"{W}/approvals/{asked['id']}", headers=bearer(admins[2].token)).json
    assert (shown["status"], shown["job_id"]) == ("carried_out", answer.json["job"]["id"])


def test_a_queued_job_is_cancelled_and_resumed(app, client, admins, many_cards):
    from backend.tasks import celery_init_app

    app.config.update(BROKER_URL="memory://", RESULT_BACKEND="cache+memory://")
    celery_init_app(app)
    serials = many_cards(app.config["APPROVAL_REVOKE_THRESHOLD"] + 1)
    asked = client.post(f"{W}/cards/bulk-revoke", headers=bearer(admins[0].token),
                        json={"serials": serials, "reason": "keyCompromise"}).json["approval"]
    client.post(f"{W}/approvals/{asked['id']}/approve", json={},
                headers=bearer(admins[1].token))
    job = client.post(f"{W}/approvals/{asked['id']}/carry-out",
                      headers=bearer(admins[0].token)).json["job"]
    cancelled = client.post(f"{W}/jobs/{job['id']}/cancel", headers=bearer(admins[1].token))
    assert (cancelled.json["status"], cancelled.json["can_resume"]) == ("cancelled", True)
    resumed = client.post(f"{W}/jobs/{job['id']}/resume", headers=bearer(admins[1].token))
    assert resumed.status_code == 202 and resumed.json["status"] == "queued"
