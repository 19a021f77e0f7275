"""The audit tables: the append-only chain of records and its signed checkpoints.

Both tables only ever grow. On PostgreSQL the application's role may INSERT and
SELECT them only, and triggers refuse UPDATE, DELETE and TRUNCATE even to their owner
until the owner disables them (see README.md); on SQLite triggers refuse UPDATE and
DELETE.

On PostgreSQL `audit_records` is partitioned by the month of `at` (migration 0016): its
primary key there is (seq, at) and `hash` is not UNIQUE, because a partitioned table's
unique keys must contain the partition key; the chain's one writer and the verifier
hold what those keys held (the migration's docstring says how). The model keeps the
plain shape SQLite has, and the ORM never writes these rows on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class AuditRecord(Base):
    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_kind: Mapped[str] = mapped_column(Text)  # staff | terminal | card | system | anonymous
    actor: Mapped[str | None] = mapped_column(Text)  # username, terminal id or card serial
    role: Mapped[str | None] = mapped_column(Text)  # staff role or terminal kind
    terminal_id: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)  # dotted: registry.citizen.read, card.auth
    subject_type: Mapped[str | None] = mapped_column(Text)
    subject_id: Mapped[str | None] = mapped_column(Text)
    citizen_id: Mapped[int | None] = mapped_column(BigInteger)  # whose data
    purpose: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)  # "ok" or a Reason value
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    details_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)

    __table_args__ = (
        Index("ix_audit_records_citizen_id_seq", "citizen_id", "seq"),
        Index("ix_audit_records_at", "at"),
    )


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    head: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)  # the exact signed text
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


AUDIT_TABLES = (AuditRecord.__tablename__, AuditCheckpoint.__tablename__)
