"""What admins changed about the programmes, kept where every hub process reads it.

`programme_settings` holds, per module key, what overrides the city's configuration:
`enabled` (NULL: as SATUKARTU_SERVICES says) and `parameters` (name -> text, the way
an admin typed it; a name absent: as the configuration says). `programme_changes`
is the history, one row per change with who, when, before and after, and the
approval that allowed it.

`programme_epoch` is one row whose number every change raises in the changing
transaction. A hub process compares it with the number it last built its modules
from: one primary-key read tells it whether anything changed at all. The UPDATE
takes that row's lock, so changes commit in the order of their numbers and a process
that has seen number N has seen every change up to N.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

Json = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer, "sqlite")
EPOCH_ROW = 1


class ProgrammeSetting(Base):
    """An admin's overrides of one module's configuration."""

    __tablename__ = "programme_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)


class ProgrammeChange(Base):
    """One change as it was carried out: the settings before and after it."""

    __tablename__ = "programme_changes"
    __table_args__ = (Index("ix_programme_changes_key_id", "key", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    changed_by: Mapped[str] = mapped_column(String(120))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True),
                                                    server_default=func.current_timestamp())
    approval_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    before: Mapped[dict[str, Any]] = mapped_column(Json)
    after: Mapped[dict[str, Any]] = mapped_column(Json)


class ProgrammeEpoch(Base):
    """The single row whose number changes with every programme change."""

    __tablename__ = "programme_epoch"
    __table_args__ = (CheckConstraint(f"id = {EPOCH_ROW}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
