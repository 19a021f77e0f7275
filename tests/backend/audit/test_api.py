"""Auditors read, verify and export the log through the API; every such act is logged."""

import json

import pytest

from backend.testing.identity import bearer


@pytest.fixture
def auditor(staff_token):
    return bearer(staff_token("auditor"))


def test_auditor_verifies_the_log_through_the_api(client, auditor, audit_log):
    answer = client.post("/api/v1/audit/verify", headers=auditor)
    assert answer.status_code == 200, answer.json
    assert answer.json["intact"] is True and answer.json["findings"] == []
    assert audit_log(action="audit.verify")[-1]["role"] == "auditor"


def test_clerk_may_not_read_the_audit_log(client, staff_token):
    answer = client.get("/api/v1/audit/records", headers=bearer(staff_token("clerk")))
    assert (answer.status_code, answer.json["error"]["reason"]) == (403, "role_not_allowed")


def test_refusal_is_recorded_with_its_reason(client, staff_token, audit_log):
    client.get("/api/v1/audit/records", headers=bearer(staff_token("clerk")))
    refused = audit_log(action="api.audit.list_records")
    assert refused[-1]["outcome"] == "role_not_allowed"
    assert refused[-1]["role"] == "clerk"


def test_unauthenticated_refusal_is_recorded_as_anonymous(client, audit_log):
    client.post("/api/v1/audit/verify")
    refused = audit_log(action="api.audit.verify_now")[-1]
    assert (refused["actor_kind"], refused["outcome"]) == ("anonymous",
                                                          "authentication_required")


def test_auditor_pages_through_records_filtered_by_citizen(client, auditor, citizen,
                                                           staff_token):
    person = citizen()
    clerk = bearer(staff_token("clerk"))
    for purpose in ("first look", "second look"):
        client.get(f"/api/v1/citizens/{person.id}", query_string={"purpose": purpose},
                   headers=clerk)
    page = client.get("/api/v1/audit/records", headers=auditor,
                      query_string={"citizen_id": person.id, "limit": 1}).json
    assert len(page["records"]) == 1 and page["next_after"] is not None
    rest = client.get("/api/v1/audit/records", headers=auditor, query_string={
        "citizen_id": person.id, "after": page["next_after"]}).json
    purposes = [r["purpose"] for r in page["records"] + rest["records"]]
    assert purposes[:2] == ["first look", "second look"]


def test_auditor_exports_jsonl_with_the_covering_checkpoint(client, auditor, staff_token):
    client.post("/api/v1/audit/checkpoints", headers=auditor)
    answer = client.get("/api/v1/audit/export", headers=auditor,
                        query_string={"from": "2000-01-01", "to": "2999-12-31"})
    assert answer.status_code == 200 and answer.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in answer.data.decode().splitlines()]
    assert lines[-1]["kind"] == "checkpoint" and lines[-2]["kind"] == "summary"


def test_export_with_a_backwards_range_is_refused_with_its_reason(client, auditor):
    answer = client.get("/api/v1/audit/export", headers=auditor,
                        query_string={"from": "2026-02-01", "to": "2026-01-01"})
    assert (answer.status_code, answer.json["error"]["reason"]) == (400,
                                                                    "audit_range_invalid")


def test_export_with_an_unknown_format_is_a_validation_refusal(client, auditor):
    answer = client.get("/api/v1/audit/export", headers=auditor, query_string={
        "from": "2026-01-01", "to": "2026-01-02", "format": "xlsx"})
    assert (answer.status_code, answer.json["error"]["reason"]) == (400, "validation_failed")


def test_checkpoint_made_through_the_api_is_listed(client, auditor):
    made = client.post("/api/v1/audit/checkpoints", headers=auditor)
    assert made.status_code == 201, made.json
    listed = client.get("/api/v1/audit/checkpoints", headers=auditor).json["checkpoints"]
    assert made.json["head"] in {c["head"] for c in listed}


def test_public_key_is_served_to_anyone(client):
    answer = client.get("/api/v1/audit/public-key")
    assert answer.status_code == 200
    assert answer.data.startswith(b"-----BEGIN PUBLIC KEY-----")
