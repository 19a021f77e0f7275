"""The clerk's review queue: pairs of records that may be one person.

A row names the newer record (registered or imported) and the existing one it looks
like, how alike they are and on what, and, once a clerk has looked, the decision.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

STATUSES = ("open", "same_person", "different_people")
SOURCES = ("registration", "import")

# (name, SQL) of every CHECK; migration 0021 creates the same list.
CHECKS = (
    ("status_known", f"status IN {STATUSES!r}"),
    ("source_known", f"source IN {SOURCES!r}"),
    ("not_itself", "new_citizen_id <> existing_citizen_id"),
    ("decision_named", "(status = 'open' AND decided_by IS NULL AND decided_at IS NULL) OR "
                       "(status <> 'open' AND decided_by IS NOT NULL AND decided_at IS NOT NULL)"),
)


class DuplicateCandidate(Base):
    __tablename__ = "duplicate_candidates"
    __table_args__ = (
        *(CheckConstraint(sql, name=name) for name, sql in CHECKS),
        UniqueConstraint("new_citizen_id", "existing_citizen_id",
                         name="uq_duplicate_candidates_pair"),
        Index("ix_duplicate_candidates_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    new_citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    existing_citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    score: Mapped[float] = mapped_column(Float)  # 0-1 (dedup.score)
    name_similarity: Mapped[float] = mapped_column(Float)  # 0-100
    matched: Mapped[str] = mapped_column(String(100))  # comma-separated: name,birth_date,...
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
