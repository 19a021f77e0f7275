"""The public verification endpoint: genuine documents confirmed, altered ones refused."""

import base64

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import update

from backend.db import session
from backend.documents import issuing
from backend.documents.models import IssuedDocument
from backend.reasons import Reason


def _path(issued, tail="verify"):
    return f"/api/v1/documents/{issued.document.public_id}/{tail}"


def _tamper(document, **values):
    session().execute(update(IssuedDocument).where(IssuedDocument.id == document.id)
                      .values(**values))
    session().commit()


def test_issued_document_is_confirmed_genuine(client, issue_civil, citizen):
    issued = issue_civil("domicile_letter", citizen(full_name="Siti Nurhaliza Rahayu"))
    answer = client.get(_path(issued))
    assert answer.status_code == 200
    assert answer.json["genuine"] is True
    assert answer.json["kind"] == "domicile_letter"
    assert answer.json["number"] == issued.document.number
    assert answer.json["content_sha256"] == issued.document.content_sha256


def test_verification_shows_the_holder_masked_and_no_personal_data(client, issue_civil,
                                                                   citizen):
    siti = citizen(full_name="Siti Nurhaliza Rahayu", address="Jl. Kenanga No. 12")
    answer = client.get(_path(issue_civil("domicile_letter", siti)))
    assert answer.json["holder"] == "S*** N*** R***"
    body = answer.get_data(as_text=True)
    for secret in ("Nurhaliza", siti.national_number, "Kenanga"):
        assert secret not in body


def test_qr_url_is_the_verification_endpoint(client, issue_civil, citizen):
    issued = issue_civil("family_card_extract", _member(citizen))
    assert issued.verify_url.endswith(_path(issued))
    assert client.get(issued.verify_url.replace("https://hub.test.satukartu", "")).json[
        "genuine"] is True


def _member(citizen):
    from backend.testing.registry import make_household

    person = citizen()
    make_household(members=[(person, "spouse")])
    return person


def test_unknown_document_id_is_refused_with_a_reason(client, app):
    answer = client.get(f"/api/v1/documents/{issuing.new_public_id()}/verify")
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.DOCUMENT_NOT_FOUND


def test_overlong_document_id_is_refused_as_unknown(client, app):
    answer = client.get("/api/v1/documents/" + "a" * 500 + "/verify")
    assert answer.json["error"]["reason"] == Reason.DOCUMENT_NOT_FOUND


def test_record_with_edited_content_is_refused_as_altered(client, issue_civil, citizen):
    issued = issue_civil("domicile_letter", citizen(full_name="Siti Rahayu"))
    forged = issued.document.content.replace("Siti Rahayu", "Sita Rahayu")
    _tamper(issued.document, content=forged)
    answer = client.get(_path(issued))
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.DOCUMENT_ALTERED


def test_record_with_edited_content_and_recomputed_digest_is_refused_as_altered(
        client, issue_civil, citizen):
    import hashlib

    issued = issue_civil("domicile_letter", citizen(full_name="Siti Rahayu"))
    forged = issued.document.content.replace("Siti Rahayu", "Sita Rahayu")
    _tamper(issued.document, content=forged,
            content_sha256=hashlib.sha256(forged.encode()).hexdigest())
    answer = client.get(_path(issued))
    assert answer.json["error"]["reason"] == Reason.DOCUMENT_ALTERED


def test_the_exact_issued_file_is_confirmed(client, issue_civil, citizen):
    issued = issue_civil("domicile_letter", citizen())
    answer = client.post(_path(issued), data=issued.pdf, content_type="application/pdf")
    assert answer.status_code == 200
    assert answer.json["genuine"] is True and answer.json["file_checked"] is True


def test_an_altered_file_is_refused(client, issue_civil, citizen):
    issued = issue_civil("domicile_letter", citizen(full_name="Siti Rahayu"))
    altered = _edit_pdf_metadata(issued.pdf)
    answer = client.post(_path(issued), data=altered, content_type="application/pdf")
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.DOCUMENT_FILE_MISMATCH


def _edit_pdf_metadata(pdf):
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata({"/Title": "Surat Keterangan Domisili (edited)"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_another_documents_file_is_refused(client, issue_civil, citizen):
    first = issue_civil("domicile_letter", citizen())
    second = issue_civil("domicile_letter", citizen())
    answer = client.post(_path(first), data=second.pdf, content_type="application/pdf")
    assert answer.json["error"]["reason"] == Reason.DOCUMENT_FILE_MISMATCH


def test_file_check_wants_a_pdf_body(client, issue_civil, citizen):
    issued = issue_civil("domicile_letter", citizen())
    answer = client.post(_path(issued), json={"pdf": "no"})
    assert answer.status_code == 415
    assert answer.json["error"]["reason"] == Reason.UNSUPPORTED_MEDIA_TYPE


def test_signature_checks_offline_with_the_published_key(client, issue_civil, citizen):
    issued = issue_civil("domicile_letter", citizen())
    verdict = client.get(_path(issued)).json
    key = client.get("/api/v1/documents/signing-key").json
    assert key["key_id"] == verdict["key_id"]
    message = key["signed_message"].format(**verdict).encode()
    signature = base64.urlsafe_b64decode(verdict["signature"] + "==")
    load_pem_public_key(key["public_key_pem"].encode()).verify(signature, message)
