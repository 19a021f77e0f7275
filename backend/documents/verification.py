"""Is a document genuine and unaltered? Checks a stored row, and optionally a file.

A row is genuine when its stored content still hashes to its recorded digest and the
city's signature over (public id, kind, digest) verifies with the key whose id the row
records (the current key or a retired one: a rotation does not void what was signed);
a file is the issued one when its SHA-256 is the digest recorded at issue (receipts,
rendered on demand, get that digest on their first rendering).
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.documents import issuing, kinds, signing
from backend.documents.models import DocumentFile, IssuedDocument
from backend.errors import ApiError
from backend.keys.ring import RingKey
from backend.reasons import Reason

log = logging.getLogger(__name__)


def find(session: Session, public_id: str) -> IssuedDocument:
    if len(public_id) > 32:
        public_id = ""  # longer than any id the city issues: not found, without a query
    document = session.scalars(
        select(IssuedDocument).where(IssuedDocument.public_id == public_id.lower())).first()
    if document is None:
        raise ApiError(Reason.DOCUMENT_NOT_FOUND, "the city issued no document with this id",
                       404)
    return document


def check_record(document: IssuedDocument) -> RingKey:
    """The city key that signed `document`, current or retired, found by the key id the
    document records. Refuses a key the city's keyring does not hold
    (`document_key_unknown`) and a row whose content or digest no longer match
    (`document_altered`)."""
    key = issuing.city_keyring().get(document.key_id)
    if key is None:
        raise ApiError(Reason.DOCUMENT_KEY_UNKNOWN, f"this document names signing key "
                       f"{document.key_id}, which is not one of the city's keys: do not "
                       "rely on it", 409, {"key_id": document.key_id})
    recomputed = hashlib.sha256(document.content.encode("utf-8")).hexdigest()
    genuine = (recomputed == document.content_sha256
               and signing.verify(key.public, document.public_id, document.kind,
                                  document.content_sha256, document.signature))
    if not genuine:
        raise ApiError(Reason.DOCUMENT_ALTERED, "this document's record does not match the "
                       "city's signature: do not rely on it", 409)
    return key


def pdf_of(session: Session, document: IssuedDocument) -> bytes:
    """The document's PDF: the kept file, or a re-rendering checked against the first."""
    kept = session.get(DocumentFile, document.id)
    if kept is not None:
        return kept.pdf
    kind = kinds.get(document.kind)
    pdf = kind.render(issuing.content_of(document), issuing.page_for(document))
    sha = hashlib.sha256(pdf).hexdigest()
    if document.file_sha256 not in (None, sha):
        log.warning("document %s re-renders differently from its first rendering "
                    "(renderer changed?); its content and signature are unchanged",
                    document.public_id)
    if document.file_sha256 is None:
        # First rendering: record its digest once (a racing first render wrote the same).
        session.execute(update(IssuedDocument).where(IssuedDocument.id == document.id,
                                                     IssuedDocument.file_sha256.is_(None))
                        .values(file_sha256=sha))
        document.file_sha256 = sha
    return pdf


def check_file(session: Session, document: IssuedDocument, pdf: bytes) -> None:
    """Refuse (`document_file_mismatch`) bytes that are not exactly the issued file."""
    if document.file_sha256 is None:
        pdf_of(session, document)
    if hashlib.sha256(pdf).hexdigest() != document.file_sha256:
        raise ApiError(Reason.DOCUMENT_FILE_MISMATCH, "this file is not the one the city "
                       "issued under this id: it was altered or belongs to another document",
                       409)
