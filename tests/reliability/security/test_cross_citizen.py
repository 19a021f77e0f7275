"""Zero cross-citizen reads: Ani's card sessions never see Budi's data, whatever id they send.

Ani and Budi each have a receipt (a redemption at the same agent shop) and a domicile
letter (issued at the same kiosk); staff have read Budi's record. Every one of Ani's
sessions (tap and PIN, at each terminal kind) tries Budi's objects by id, and every
id the journal holds; the answers are "not found" or a refusal, and what Ani's own
views return (programmes, balances, documents, access log) names only Ani.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from backend.db import session
from backend.documents import receipts
from backend.ledger.models import JournalEntry
from backend.reasons import Reason
from backend.testing.identity import bearer


@pytest.fixture
def ani_sessions(world):
    return world.ani.sessions


def _text(answer) -> str:
    return answer.get_data(as_text=True)


def test_budis_receipt_is_not_found_for_any_of_anis_sessions(client, world, ani_sessions):
    for where, token in ani_sessions.items():
        answer = client.get(f"/api/v1/receipts/{world.budi.receipt}", headers=bearer(token))
        assert answer.status_code in (403, 404), where
        assert answer.json["error"]["reason"] in (Reason.DOCUMENT_NOT_FOUND,
                                                  Reason.TERMINAL_KIND_NOT_ALLOWED), where


def test_at_the_shop_that_made_budis_receipt_anis_session_still_cannot_fetch_it(
        client, world, ani_sessions):
    answer = client.get(f"/api/v1/receipts/{world.budi.receipt}",
                        headers=bearer(ani_sessions["agent:pin"]))
    assert (answer.status_code, answer.json["error"]["reason"]) == (404,
                                                                    Reason.DOCUMENT_NOT_FOUND)
    own = client.get(f"/api/v1/receipts/{world.ani.receipt}",
                     headers=bearer(ani_sessions["agent:pin"]))
    assert own.status_code == 200


def test_no_journal_entry_but_anis_own_opens_as_a_receipt_for_her(client, world, ani_sessions):
    ids = session().scalars(select(JournalEntry.id)).all()
    token = ani_sessions["kiosk:pin"]
    opened = {i for i in ids if client.get(f"/api/v1/receipts/{i}",
                                           headers=bearer(token)).status_code == 200}
    assert opened == {world.ani.receipt}


def test_budis_document_is_not_found_for_any_of_anis_sessions(client, world, ani_sessions):
    for where, token in ani_sessions.items():
        answer = client.get(f"/api/v1/documents/{world.budi.document}/pdf",
                            headers=bearer(token))
        assert (answer.status_code, answer.json["error"]["reason"]) in (
            (404, Reason.DOCUMENT_NOT_FOUND), (403, Reason.TERMINAL_KIND_NOT_ALLOWED)), where


def test_anis_document_list_holds_only_her_documents(client, world, ani_sessions):
    listed = client.get("/api/v1/documents", headers=bearer(ani_sessions["kiosk:tap"]))
    receipt = receipts.find_for_entry(session(), world.ani.receipt)  # signed as she paid
    assert {d["public_id"] for d in listed.json["documents"]} == {world.ani.document,
                                                                  receipt.public_id}


def test_programmes_and_balances_are_anis_whatever_id_is_sent(client, world, ani_sessions):
    token = ani_sessions["kiosk:pin"]
    for query in ({}, {"citizen_id": world.budi.id}, {"citizen": world.budi.id}):
        answer = client.get("/api/v1/services", query_string=query, headers=bearer(token))
        assert answer.status_code == 200
        assert answer.json["citizen_id"] == world.ani.id
        assert str(world.budi.household.family_card_number) not in _text(answer)


def test_a_citizen_id_in_an_actions_body_is_refused_not_followed(client, world, ani_sessions):
    answer = client.post("/api/v1/services/food/balance", json={"citizen_id": world.budi.id},
                         headers=bearer(ani_sessions["kiosk:tap"]))
    assert (answer.status_code, answer.json["error"]["reason"]) == (400, Reason.UNKNOWN_FIELD)


def test_a_clinic_visit_for_someone_off_anis_family_card_is_forbidden(client, world,
                                                                       ani_sessions):
    answer = client.post("/api/v1/services/health/register_visit", json={
        "kind": "general", "facility_code": "PKM-KBY-01", "patient_id": world.budi.id},
        headers={**bearer(ani_sessions["counter:pin"]), "Idempotency-Key": "visit-for-budi"})
    assert (answer.status_code, answer.json["error"]["reason"]) == (403, Reason.FORBIDDEN)
    assert "coverage" not in json.dumps(answer.json)  # nothing of Budi's cover leaks


def test_anis_access_log_shows_reads_of_ani_only(client, world, ani_sessions):
    admin = bearer(world.staff["admin"].token)
    purpose = {"purpose": "checking a complaint"}
    assert client.get(f"/api/v1/citizens/{world.budi.id}", query_string=purpose,
                      headers=admin).status_code == 200
    assert client.get(f"/api/v1/citizens/{world.ani.id}", query_string=purpose,
                      headers=admin).status_code == 200
    log = client.get("/api/v1/audit/me/access-log", headers=bearer(ani_sessions["kiosk:pin"]))
    assert log.status_code == 200 and log.json["citizen_id"] == world.ani.id
    assert log.json["entries"], "the admin's read of Ani is in her log"
    assert "checking a complaint" in _text(log)
    assert world.budi.citizen.full_name not in _text(log)


def test_the_access_log_takes_no_citizen_id(client, world, ani_sessions):
    answer = client.get("/api/v1/audit/me/access-log", query_string={"citizen_id": world.budi.id},
                        headers=bearer(ani_sessions["kiosk:pin"]))
    assert (answer.status_code, answer.json["error"]["reason"]) == (400, Reason.UNKNOWN_FIELD)


def test_registry_records_are_closed_to_card_sessions_at_a_counter(client, world, ani_sessions):
    for path in (f"/api/v1/citizens/{world.budi.id}", f"/api/v1/citizens/{world.budi.id}/history",
                 f"/api/v1/households/{world.budi.household.id}"):
        answer = client.get(path, query_string={"purpose": "x" * 5},
                            headers=bearer(ani_sessions["counter:pin"]))
        assert (answer.status_code, answer.json["error"]["reason"]) == (403, Reason.FORBIDDEN)


def test_budis_receipt_cannot_be_appealed_from_any_of_anis_sessions(client, world,
                                                                     ani_sessions):
    for where, token in ani_sessions.items():
        answer = client.post("/api/v1/grievances", headers=bearer(token),
                             json={"subject": "receipt", "entry_id": world.budi.receipt})
        assert answer.status_code in (403, 422), where
        assert answer.json["error"]["reason"] in (
            Reason.GRIEVANCE_SUBJECT_INVALID, Reason.TERMINAL_KIND_NOT_ALLOWED,
            Reason.ASSURANCE_TOO_LOW), where


def test_anis_appeals_list_holds_only_her_appeals(client, world, ani_sessions):
    budis = client.post("/api/v1/grievances", headers=bearer(world.budi.sessions["kiosk:pin"]),
                        json={"subject": "receipt", "entry_id": world.budi.receipt})
    assert budis.status_code == 200, budis.json
    own = client.post("/api/v1/grievances", headers=bearer(ani_sessions["kiosk:pin"]),
                      json={"subject": "receipt", "entry_id": world.ani.receipt})
    assert own.status_code == 200, own.json
    listed = client.get("/api/v1/grievances/mine",
                        headers=bearer(ani_sessions["counter:pin"])).json["items"]
    assert {item["entry_id"] for item in listed} == {world.ani.receipt}
    assert budis.json["appeal"]["id"] not in {item["id"] for item in listed}
