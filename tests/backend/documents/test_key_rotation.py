"""Rotating the document key: new documents use the new key, earlier ones still verify."""

import base64

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import update

from backend.db import session
from backend.documents import receipts, signing
from backend.documents.models import IssuedDocument
from backend.keys.purposes import store
from backend.keys.ring import KeyringError
from backend.reasons import Reason

BASKET = {"items": [{"name": "Beras 5 kg", "category": "rice", "quantity": 1,
                     "unit_price": 68_000}], "amount": 68_000}


def _verify(client, document):
    return client.get(f"/api/v1/documents/{document.public_id}/verify")


def _rotate(app):
    return store(app.config, "documents").rotate()


def _receipt(citizen, household, fund, terminal, card_session_at, call_service):
    holder = citizen(full_name="Siti Rahayu")
    fund("food", "groceries", household(head=holder, welfare_decile=2), 200_000)
    token = card_session_at(holder, terminal("agent", name="e-Warong Melati"))
    answer = call_service(token, "food", "redeem", BASKET)
    assert answer.status_code == 200, answer.json
    return receipts.find_for_entry(session(), answer.json["receipt"])


def test_documents_issued_after_rotation_are_signed_with_the_new_key(app, issue_civil,
                                                                      citizen):
    before = issue_civil("domicile_letter", citizen()).document
    retired, new = _rotate(app)
    after = issue_civil("domicile_letter", citizen()).document
    assert before.key_id == retired.key_id
    assert after.key_id == new.key_id != retired.key_id


def test_a_civil_document_signed_before_rotation_still_verifies(app, client, issue_civil,
                                                                 citizen):
    document = issue_civil("domicile_letter", citizen()).document
    _rotate(app)
    answer = _verify(client, document)
    assert answer.status_code == 200, answer.json
    assert answer.json["genuine"] is True
    assert (answer.json["key_id"], answer.json["key_status"]) == (document.key_id, "retired")


def test_a_receipt_signed_before_rotation_still_verifies(app, client, citizen, household, fund,
                                                         terminal, card_session_at,
                                                         call_service):
    document = _receipt(citizen, household, fund, terminal, card_session_at, call_service)
    _rotate(app)
    answer = _verify(client, document)
    assert answer.status_code == 200, answer.json
    assert (answer.json["key_id"], answer.json["key_status"]) == (document.key_id, "retired")


def test_verification_names_the_current_key_that_signed(client, issue_civil, citizen):
    document = issue_civil("domicile_letter", citizen()).document
    answer = _verify(client, document)
    assert (answer.json["key_id"], answer.json["key_status"]) == (document.key_id, "current")


def test_a_document_naming_a_key_the_city_does_not_hold_is_refused(client, issue_civil,
                                                                    citizen):
    document = issue_civil("domicile_letter", citizen()).document
    session().execute(update(IssuedDocument).where(IssuedDocument.id == document.id)
                      .values(key_id="00112233deadbeef"))
    session().commit()
    answer = _verify(client, document)
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.DOCUMENT_KEY_UNKNOWN
    assert "00112233deadbeef" in answer.json["error"]["message"]


def test_published_keys_let_anyone_check_a_document_signed_by_a_retired_key(
        app, client, issue_civil, citizen):
    document = issue_civil("domicile_letter", citizen()).document
    retired, new = _rotate(app)
    published = client.get("/api/v1/documents/signing-key").json
    assert published["key_id"] == new.key_id
    by_id = {k["key_id"]: k for k in published["keys"]}
    assert (by_id[retired.key_id]["status"], by_id[new.key_id]["status"]) == \
        ("retired", "current")
    public = load_pem_public_key(by_id[document.key_id]["public_key_pem"].encode())
    signature = base64.urlsafe_b64decode(document.signature + "==")
    public.verify(signature, signing.message(document.public_id, document.kind,
                                             document.content_sha256))


def test_rotation_keeps_no_private_key_but_the_current_one(tmp_path):
    path = tmp_path / "document-signing.key"
    ring_store = store({"DOCUMENT_SIGNING_KEY": str(path), "INSTANCE_DIR": str(tmp_path)},
                       "documents")
    _retired, new = ring_store.rotate()
    assert signing.SigningKey(signing._read_or_create(path)).key_id == new.key_id
    assert path.stat().st_mode & 0o077 == 0
    assert "PRIVATE" not in ring_store.ring_file.read_text()
    assert [f.name for f in tmp_path.iterdir() if f.suffix == ".key"] == [path.name]


def test_a_key_configured_as_pem_text_is_not_rotated(tmp_path):
    pem = signing.ring.private_pem(signing._read_or_create(tmp_path / "k.pem")).decode()
    with pytest.raises(KeyringError, match="configured as PEM text"):
        store({"DOCUMENT_SIGNING_KEY": pem, "INSTANCE_DIR": str(tmp_path)},
              "documents").rotate()
