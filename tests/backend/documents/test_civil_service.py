"""Civil documents end to end: a card holder asks with PIN, the hub issues a signed PDF."""

import datetime as dt

from sqlalchemy import func, select

from backend.audit.models import AuditRecord
from backend.db import session
from backend.documents.models import IssuedDocument
from backend.reasons import Reason
from backend.services.catalogue import modules
from tests.backend.documents import pdftools

PURPOSE = {"purpose": "pendaftaran sekolah anak"}


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _local(url):
    return url.replace("https://hub.test.satukartu", "")


def _documents_of(citizen):
    return session().scalar(select(func.count()).select_from(IssuedDocument)
                            .where(IssuedDocument.citizen_id == citizen.id))


def test_kiosk_with_pin_issues_a_domicile_letter_the_holder_can_print(
        citizen, card_session, call_service, client):
    siti = citizen(full_name="Siti Aminah", address="Jl. Mawar No. 3")
    token = card_session(siti, assurance="pin", terminal_kind="kiosk")
    answer = call_service(token, "civil_documents", "domicile_letter", PURPOSE)
    assert answer.status_code == 200, answer.json
    document = answer.json["document"]
    pdf = client.get(_local(document["pdf_url"]), headers=_auth(token))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    words = pdftools.text(pdf.data)
    for expected in ("Siti Aminah", siti.national_number, "Jl. Mawar No. 3",
                     "pendaftaran sekolah anak", document["verify_url"]):
        assert expected in words


def test_issued_letter_verifies_as_genuine_and_its_file_as_the_issued_one(
        citizen, card_session, call_service, client):
    token = card_session(citizen(), assurance="pin", terminal_kind="counter")
    document = call_service(token, "civil_documents", "domicile_letter", PURPOSE).json[
        "document"]
    pdf = client.get(_local(document["pdf_url"]), headers=_auth(token)).data
    verdict = client.post(_local(document["verify_url"]), data=pdf,
                          content_type="application/pdf")
    assert verdict.status_code == 200 and verdict.json["file_checked"] is True


def test_counter_issues_a_family_card_extract(citizen, household, card_session,
                                             call_service, client):
    mother = citizen(full_name="Ani Suryani")
    child = citizen(full_name="Rina Suryani", birth_date=dt.date(2016, 4, 1))
    household(head=mother, members=[(child, "child")])
    token = card_session(mother, assurance="pin", terminal_kind="counter")
    answer = call_service(token, "civil_documents", "family_card_extract")
    assert answer.status_code == 200, answer.json
    pdf = client.get(_local(answer.json["document"]["pdf_url"]), headers=_auth(token)).data
    words = pdftools.text(pdf)
    assert "Ani Suryani" in words and "Rina Suryani" in words


def test_a_tap_is_not_enough_and_nothing_is_issued(citizen, card_session, call_service):
    person = citizen()
    token = card_session(person, assurance="tap", terminal_kind="kiosk")
    answer = call_service(token, "civil_documents", "domicile_letter", PURPOSE)
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ASSURANCE_TOO_LOW
    assert _documents_of(person) == 0


def test_an_agent_shop_may_not_issue_documents(citizen, card_session, call_service):
    person = citizen()
    token = card_session(person, assurance="pin", terminal_kind="agent")
    answer = call_service(token, "civil_documents", "domicile_letter", PURPOSE)
    assert answer.json["error"]["reason"] == Reason.TERMINAL_KIND_NOT_ALLOWED
    assert _documents_of(person) == 0


def test_extract_without_a_family_card_is_refused_and_nothing_is_issued(
        citizen, card_session, call_service):
    loner = citizen()
    token = card_session(loner, assurance="pin", terminal_kind="kiosk")
    answer = call_service(token, "civil_documents", "family_card_extract")
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.NOT_ELIGIBLE
    assert answer.json["error"]["details"]["eligibility"] == "no_household"
    assert _documents_of(loner) == 0


def test_a_purpose_with_control_characters_is_refused(citizen, card_session, call_service):
    token = card_session(citizen(), assurance="pin", terminal_kind="kiosk")
    answer = call_service(token, "civil_documents", "domicile_letter",
                          {"purpose": "bank\x00\nloan"})
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED


def test_a_replayed_request_returns_the_same_document(citizen, card_session, call_service):
    person = citizen()
    token = card_session(person, assurance="pin", terminal_kind="kiosk")
    first = call_service(token, "civil_documents", "domicile_letter", PURPOSE,
                         idempotency_key="doc-once")
    again = call_service(token, "civil_documents", "domicile_letter", PURPOSE,
                         idempotency_key="doc-once")
    assert again.json == first.json
    assert _documents_of(person) == 1


def test_the_daily_quota_is_enforced(citizen, card_session, call_service, monkeypatch):
    monkeypatch.setitem(modules()["civil_documents"].config, "daily_quota", 1)
    person = citizen()
    token = card_session(person, assurance="pin", terminal_kind="kiosk")
    assert call_service(token, "civil_documents", "domicile_letter", PURPOSE).status_code == 200
    answer = call_service(token, "civil_documents", "domicile_letter", PURPOSE)
    assert answer.status_code == 429
    assert answer.json["error"]["reason"] == Reason.RATE_LIMITED
    assert _documents_of(person) == 1


def test_another_citizen_cannot_fetch_the_document(citizen, card_session, call_service,
                                                   client):
    owner_token = card_session(citizen(), assurance="pin", terminal_kind="kiosk")
    document = call_service(owner_token, "civil_documents", "domicile_letter",
                            PURPOSE).json["document"]
    stranger = card_session(citizen(), assurance="pin", terminal_kind="kiosk")
    answer = client.get(_local(document["pdf_url"]), headers=_auth(stranger))
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.DOCUMENT_NOT_FOUND


def test_an_admin_copy_is_in_the_holders_access_log(citizen, card_session, call_service,
                                                    client, staff_token):
    person = citizen()
    token = card_session(person, assurance="pin", terminal_kind="kiosk")
    document = call_service(token, "civil_documents", "domicile_letter",
                            PURPOSE).json["document"]
    answer = client.get(_local(document["pdf_url"]), headers=_auth(staff_token("admin")))
    assert answer.status_code == 200
    reads = session().scalars(select(AuditRecord).where(
        AuditRecord.action == "document.read",
        AuditRecord.subject_id == document["public_id"])).all()
    assert [(r.citizen_id, r.actor_kind) for r in reads] == [(person.id, "staff")]


def test_the_holder_lists_their_documents(citizen, card_session, call_service, client):
    token = card_session(citizen(), assurance="pin", terminal_kind="kiosk")
    document = call_service(token, "civil_documents", "domicile_letter",
                            PURPOSE).json["document"]
    listed = client.get("/api/v1/documents", headers=_auth(token))
    assert [d["public_id"] for d in listed.json["documents"]] == [document["public_id"]]
