"""Document endpoints: public verification, copies for their holders, receipts, reports.

Verification is public (anyone holding a paper may scan its QR code) and reveals no
more than a reader needs to match it with the paper: kind, number, time, issuer and
the holder's masked name, and which city key signed it (current or retired). Copies go
to the holder's card session, the terminal that issued them, or staff who need them; to
anyone else a document does not exist.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from flask import Response, request
from pydantic import Field

from backend.api.routing import Api, OutModel, StrictModel
from backend.audit import record_read
from backend.auth.principal import PUBLIC, Principal, Requirement, current_principal
from backend.db import session
from backend.documents import (
    formats,
    issuing,
    kinds,
    monthly_report,
    receipts,
    verification,
)
from backend.documents.models import IssuedDocument
from backend.errors import ApiError
from backend.keys.published import PublishedKey, published
from backend.keys.ring import RingKey
from backend.reasons import Reason

api = Api("documents", tag="documents")

PUBLIC_ID = "<public_id>"
READERS = Requirement(roles=("admin", "auditor"),
                      terminal_kinds=("kiosk", "counter", "agent", "gate"))
HOLDER = Requirement(terminal_kinds=("kiosk", "counter"), card=True, assurance="tap")
REPORT_READERS = Requirement(roles=("admin", "auditor"))


class Verdict(OutModel):
    genuine: bool
    public_id: str
    kind: str
    title: str
    number: str
    issued_at: datetime
    issuer: str
    holder: str = Field(description="The holder's name, masked: first letters only.")
    content_sha256: str
    file_sha256: str | None
    algorithm: str = "Ed25519"
    key_id: str = Field(description="The id of the city key that signed this document.")
    key_status: Literal["current", "retired"] = Field(
        description="`current`: the key signing new documents now; `retired`: an earlier "
        "city key, kept so that what it signed still verifies.")
    signature: str
    file_checked: bool = False


class SigningKeyOut(OutModel):
    algorithm: str
    key_id: str = Field(description="The current key: it signs new documents.")
    public_key_pem: str
    signed_message: str
    keys: list[PublishedKey] = Field(description="Every city document key, current and "
                                     "retired, oldest first: pick by a document's key id.")


class DocumentOut(OutModel):
    public_id: str
    kind: str
    number: str
    issued_at: datetime
    verify_url: str


class DocumentList(OutModel):
    documents: list[DocumentOut]


class ListQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100)


def _verdict(document: IssuedDocument, key: RingKey, file_checked: bool = False) -> Verdict:
    content = issuing.content_of(document)
    return Verdict(
        genuine=True, public_id=document.public_id, kind=document.kind,
        title=kinds.get(document.kind).title, number=document.number,
        issued_at=content["issued_at"], issuer=content["issuer"],
        holder=formats.mask_name(content.get("holder", {}).get("full_name", "")),
        content_sha256=document.content_sha256, file_sha256=document.file_sha256,
        key_id=document.key_id, key_status=key.status, signature=document.signature,
        file_checked=file_checked)


@api.route(f"/documents/{PUBLIC_ID}/verify", summary="Is this document genuine?",
           auth=PUBLIC, response=Verdict,
           reasons=(Reason.DOCUMENT_NOT_FOUND, Reason.DOCUMENT_ALTERED,
                    Reason.DOCUMENT_KEY_UNKNOWN))
def verify_document(public_id: str) -> Verdict:
    """The QR code on every city document leads here. Genuine means: the city issued a
    document under this id, and its recorded content still matches the city's
    signature. Compare the kind, number, time and masked name with the paper."""
    document = verification.find(session(), public_id)
    return _verdict(document, verification.check_record(document))


@api.route(f"/documents/{PUBLIC_ID}/verify", "POST",
           summary="Is this PDF exactly the file the city issued?", auth=PUBLIC,
           response=Verdict, content_type="application/json",
           reasons=(Reason.DOCUMENT_NOT_FOUND, Reason.DOCUMENT_ALTERED,
                    Reason.DOCUMENT_KEY_UNKNOWN, Reason.DOCUMENT_FILE_MISMATCH,
                    Reason.UNSUPPORTED_MEDIA_TYPE))
def verify_file(public_id: str) -> Verdict:
    """Send the PDF's bytes as the body (`Content-Type: application/pdf`): the answer is
    genuine only if they are byte for byte the file issued under this id."""
    if request.mimetype != "application/pdf":
        raise ApiError(Reason.UNSUPPORTED_MEDIA_TYPE, "send the PDF as application/pdf", 415)
    document = verification.find(session(), public_id)
    key = verification.check_record(document)
    verification.check_file(session(), document, request.get_data(cache=False))
    return _verdict(document, key, file_checked=True)


@api.route("/documents/signing-key", summary="The city's document signing key",
           auth=PUBLIC, response=SigningKeyOut)
def signing_key() -> SigningKeyOut:
    """For checking a document offline: Ed25519 over `signed_message`, where the
    placeholders are the values the verification endpoint returns, with the key of
    `keys` whose id the document names."""
    key = issuing.city_key()
    template = issuing.signing.DOMAIN.decode() + "{public_id}\n{kind}\n{content_sha256}"
    return SigningKeyOut(algorithm="Ed25519", key_id=key.key_id,
                         public_key_pem=key.public_pem().decode(), signed_message=template,
                         keys=published(issuing.city_keyring()))


@api.route("/documents", summary="The card holder's documents", auth=HOLDER,
           query=ListQuery, response=DocumentList)
def my_documents(query: ListQuery) -> DocumentList:
    """Documents issued to the citizen of this card session, newest first."""
    from sqlalchemy import select

    principal = _principal()
    assert principal.card is not None
    rows = session().scalars(
        select(IssuedDocument).where(IssuedDocument.citizen_id == principal.card.citizen_id)
        .order_by(IssuedDocument.issued_at.desc(), IssuedDocument.id.desc())
        .limit(query.limit)).all()
    return DocumentList(documents=[
        DocumentOut(public_id=d.public_id, kind=d.kind, number=d.number, issued_at=d.issued_at,
                    verify_url=issuing.verify_url(d.public_id)) for d in rows])


@api.route(f"/documents/{PUBLIC_ID}/pdf", summary="A copy of a document (PDF)",
           auth=READERS, content_type="application/pdf",
           reasons=(Reason.DOCUMENT_NOT_FOUND,))
def document_pdf(public_id: str) -> Response:
    """For the holder's card session, the terminal that issued it, or admins and
    auditors (their reads are in the holder's access log)."""
    document = verification.find(session(), public_id)
    _may_read(document.citizen_id, document.terminal_id)
    _log_read(document, "copy of an issued document")
    return _pdf(verification.pdf_of(session(), document), f"{document.number}.pdf")


@api.route("/receipts/<int:entry_id>", summary="The receipt of a redemption or withdrawal",
           auth=READERS, content_type="application/pdf",
           reasons=(Reason.DOCUMENT_NOT_FOUND,))
def receipt_pdf(entry_id: int) -> Response:
    """An 80 mm receipt for the journal entry (its id is the receipt number), for the
    card holder (at any kiosk), the terminal that made it, or admins and auditors."""
    facts_owner = _receipt_owner(entry_id)
    _may_read(*facts_owner)
    document = receipts.issue_for_entry(session(), entry_id)
    if document is None:
        raise _not_found()
    _log_read(document, "copy of a receipt")
    return _pdf(verification.pdf_of(session(), document), f"struk-{entry_id}.pdf")


class MonthlyQuery(StrictModel):
    # Years the ledger can hold: 0001 or 9999 would step outside the calendar in the
    # city's time zone.
    month: str = Field(pattern=r"^(19|20)\d{2}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    level: Literal["regency", "district", "village"] = "district"
    programme: str | None = Field(None, max_length=40)


@api.route("/reports/monthly", summary="The monthly programme report (PDF, with charts)",
           auth=REPORT_READERS, query=MonthlyQuery, content_type="application/pdf")
def monthly_report_pdf(query: MonthlyQuery) -> Response:
    """Beneficiaries, amounts granted and spent and the redemption rate, per programme
    and region, for the city's calendar month; from the ledger."""
    _, pdf = monthly_report.build(session(), query.month, level=query.level,
                                  programmes=_programmes(query))
    assert pdf is not None
    return _pdf(pdf, f"laporan-{query.month}.pdf")


@api.route("/reports/monthly/figures", summary="The monthly report's figures (JSON)",
           auth=REPORT_READERS, query=MonthlyQuery)
def monthly_report_figures(query: MonthlyQuery) -> dict:
    """The same figures as the PDF, for dashboards."""
    report, _ = monthly_report.build(session(), query.month, level=query.level,
                                     programmes=_programmes(query), with_pdf=False)
    return report.as_dict()


def _programmes(query: MonthlyQuery) -> tuple[str, ...]:
    return (query.programme,) if query.programme else ()


def _receipt_owner(entry_id: int) -> tuple[int | None, str | None]:
    from backend.ledger.models import JournalEntry

    entry = session().get(JournalEntry, entry_id)
    if entry is None or entry.kind not in receipts.RECEIPT_ENTRY_KINDS:
        raise _not_found()
    return entry.citizen_id, entry.terminal_id


def _principal() -> Principal:
    principal = current_principal()
    assert principal is not None  # the route's Requirement admits no anonymous caller
    return principal


def _may_read(citizen_id: int | None, terminal_id: str | None) -> None:
    """Refuse as if absent: a document's existence is itself personal data."""
    principal = _principal()
    if principal.kind == "staff":
        return
    if principal.card is not None:
        if citizen_id is not None and principal.card.citizen_id == citizen_id:
            return
    elif terminal_id is not None and principal.terminal_id == terminal_id:
        return
    raise _not_found()


def _log_read(document: IssuedDocument, purpose: str) -> None:
    principal = _principal()
    own = principal.card is not None and principal.card.citizen_id == document.citizen_id
    if document.citizen_id is not None and not own:
        record_read(session(), document.citizen_id, purpose, ("document." + document.kind,),
                    action="document.read", subject_type="document",
                    subject_id=document.public_id)


def _not_found() -> ApiError:
    return ApiError(Reason.DOCUMENT_NOT_FOUND, "no such document for you", 404)


def _pdf(pdf: bytes, filename: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["ETag"] = hashlib.sha256(pdf).hexdigest()
    return response
