"""Issue a city document: canonical content, digest, signature, PDF, one row.

The content a document is issued with is canonical JSON (sorted keys, no spaces,
UTF-8, integers only: no floats whose text could vary). Its SHA-256 is what the city
signs and what the public verification endpoint recomputes, so a stored row whose
content was edited no longer matches its signature.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from backend.documents import signing
from backend.documents.models import DocumentFile, IssuedDocument
from backend.keys.purposes import keyring
from backend.keys.ring import Keyring

VERIFY_PATH = "/api/v1/documents/{public_id}/verify"
PDF_PATH = "/api/v1/documents/{public_id}/pdf"


@dataclass(frozen=True)
class Page:
    """What a template needs besides the content: where it comes from, how to print it."""

    city: str
    font_dirs: tuple[str, ...]
    zone: str
    verify_url: str
    fingerprint: str


Renderer = Callable[[Mapping[str, Any], Page], bytes]


@dataclass(frozen=True)
class Kind:
    """A kind of document the hub can issue: its number prefix, title and template.

    `keep_file`: store the issued PDF (civil letters are re-printed exactly as issued);
    otherwise it is re-rendered from the content on demand (receipts: millions of them).
    """

    key: str
    code: str
    title: str
    render: Renderer
    keep_file: bool


@dataclass(frozen=True)
class Issued:
    document: IssuedDocument
    pdf: bytes | None  # None when issued without rendering (rendered on first fetch)

    @property
    def verify_url(self) -> str:
        return verify_url(self.document.public_id)

    def summary(self) -> dict[str, Any]:
        """What a service answer says about the document: where to check and fetch it."""
        doc = self.document
        return {"public_id": doc.public_id, "kind": doc.kind, "number": doc.number,
                "issued_at": doc.issued_at.isoformat(), "verify_url": self.verify_url,
                "pdf_url": pdf_url(doc.public_id), "content_sha256": doc.content_sha256}


def canonical(content: Mapping[str, Any]) -> bytes:
    """The exact bytes a document's digest is taken over."""
    _refuse_floats(content)
    return json.dumps(content, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("document content holds integers, not floats")
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)


def digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def new_public_id() -> str:
    """120 random bits in lowercase base32: unguessable, safe in a URL and a QR code."""
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()


def verify_url(public_id: str, origin: str | None = None) -> str:
    origin = origin or current_app.config["ORIGIN"]
    return origin.rstrip("/") + VERIFY_PATH.format(public_id=public_id)


def pdf_url(public_id: str) -> str:
    return current_app.config["ORIGIN"].rstrip("/") + PDF_PATH.format(public_id=public_id)


def city_key() -> signing.SigningKey:
    """The key that signs new documents: the keyring's current one."""
    return signing.load_key(current_app.config["DOCUMENT_SIGNING_KEY"])


def city_keyring() -> Keyring:
    """Every key the city has signed documents with, current and retired, by id."""
    return keyring(current_app.config, "documents")


def page_for(document: IssuedDocument) -> Page:
    """Print settings for `document`, from the app's configuration."""
    config = current_app.config
    fingerprint = (f"No. {document.number} · SHA-256 {document.content_sha256[:32]} · "
                   f"kunci {document.key_id}")
    return Page(city=config["CITY_NAME"], font_dirs=tuple(config["FONT_DIRS"]),
                zone=config["CITY_TIMEZONE"], verify_url=verify_url(document.public_id),
                fingerprint=fingerprint)


def now() -> datetime:
    """Issue times are whole seconds: the printed time and the signed content agree."""
    return datetime.now(UTC).replace(microsecond=0)


def issue(session: Session, kind: Kind, content: Mapping[str, Any], *,
          citizen_id: int | None = None, terminal_id: str | None = None,
          source: str | None = None, number: str | None = None,
          issued_at: datetime | None = None, render: bool = True) -> Issued:
    """Sign and record a document of `kind` in the caller's transaction; render its PDF.

    `content` is what the document says; the number, kind, issuer and time are added
    here so they are signed too. `render=False` (receipts written in a hot path) leaves
    the PDF to its first fetch. Nothing is committed.
    """
    issued_at = issued_at or now()
    public_id = new_public_id()
    number = number or f"{kind.code}-{issued_at:%Y%m%d}-{public_id[:8].upper()}"
    full = {**content, "kind": kind.key, "number": number,
            "issuer": current_app.config["CITY_NAME"], "issued_at": issued_at.isoformat()}
    content_sha256 = digest(full)
    key = city_key()
    document = IssuedDocument(
        public_id=public_id, kind=kind.key, number=number, citizen_id=citizen_id,
        terminal_id=terminal_id, source=source, content=canonical(full).decode("utf-8"),
        content_sha256=content_sha256, key_id=key.key_id, issued_at=issued_at,
        signature=signing.sign(key, public_id, kind.key, content_sha256))
    pdf = kind.render(full, page_for(document)) if render or kind.keep_file else None
    if pdf is not None:
        document.file_sha256 = hashlib.sha256(pdf).hexdigest()
    session.add(document)
    session.flush()
    if kind.keep_file:
        assert pdf is not None
        session.add(DocumentFile(document_id=document.id, pdf=pdf))
    return Issued(document, pdf)


def content_of(document: IssuedDocument) -> dict[str, Any]:
    return json.loads(document.content)
