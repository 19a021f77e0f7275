"""Issued documents: what the city signed, so anyone holding a copy can check it.

A row keeps the canonical content a document was issued with, its digest, the city's
signature over (public id, kind, digest) and the digest of the PDF file. Rows are
written once; only `file_sha256` is filled in later for documents rendered on demand
(receipts), on their first rendering.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class IssuedDocument(Base):
    """One signed document. `public_id` is the unguessable name printed in its QR code.

    `source` names what the document is about when that must have one document only
    (a receipt's journal entry: `journal:123`), so a second issue is refused by the
    database rather than by luck.
    """

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("kind", "number"),
        Index("ix_documents_citizen_issued", "citizen_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(48))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    terminal_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64), unique=True)
    content: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DocumentFile(Base):
    """The exact PDF of a civil document, kept because a letter is re-printed as issued.

    Receipts keep no file: they are re-rendered from their content (deterministic
    output) and checked against `IssuedDocument.file_sha256`.
    """

    __tablename__ = "document_files"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
