"""Cards, their challenges and the sessions they open.

The hot path (challenge, token, session lookup) uses Core statements against these
tables (see `authentication.py`); the ORM classes serve the lifecycle and the API.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

STATUSES = ("active", "suspended", "revoked", "superseded")
# A citizen holds at most one card in these states: issuing a new one supersedes it.
LIVE_STATUSES = ("active", "suspended")
ASSURANCES = ("tap", "pin")

# RFC 5280 section 5.3.1 CRLReason names, as x509 and the CLI spell them.
REVOCATION_REASONS = (
    "unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
    "cessationOfOperation", "certificateHold", "removeFromCRL", "privilegeWithdrawn",
    "aACompromise",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


LIVE_WHERE = _in("status", LIVE_STATUSES)


class Card(Base):
    """One physical card: who holds it, its state, and the certificates on it."""

    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("revocation_reason IS NULL OR "
                        + _in("revocation_reason", REVOCATION_REASONS),
                        name="revocation_reason"),
        Index("uq_cards_one_live_per_citizen", "citizen_id", unique=True,
              postgresql_where=text(LIVE_WHERE), sqlite_where=text(LIVE_WHERE)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), unique=True)
    card_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="active")
    revocation_reason: Mapped[str | None] = mapped_column(String(24))
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # SHA-256 of each certificate's DER (hex) and its X.509 serial (hex), per key.
    cert_9a_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    cert_9e_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    cert_9a_serial: Mapped[str] = mapped_column(String(42))
    cert_9e_serial: Mapped[str] = mapped_column(String(42))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    # The holder's own switch (`taplock.py`): when set, the tap key (9E) opens nothing
    # and every use needs the PIN. A new card, a replacement too, starts unlocked.
    tap_locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    tap_locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp())


class Challenge(Base):
    """A spent challenge nonce: its hash, the terminal it was for, its expiry, when used.

    Nonces are issued without a row (they prove themselves, see `nonces.py`); the row
    written when one is spent is what makes it single-use. Purged after expiry.
    """

    __tablename__ = "card_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    terminal_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CardSession(Base):
    """A citizen's session opened by a card signature at one terminal."""

    __tablename__ = "card_sessions"
    __table_args__ = (CheckConstraint(_in("assurance", ASSURANCES), name="assurance"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    terminal_id: Mapped[str] = mapped_column(String(64))
    terminal_kind: Mapped[str] = mapped_column(String(16))
    assurance: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(32))


class PublishedCrl(Base):
    """Every CRL the issuing CA signed; the newest is the one served."""

    __tablename__ = "card_crls"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    this_update: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_update: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    entries: Mapped[int] = mapped_column(Integer)
    # The server default migration 0004 made, as SQL: Alembic reads a bare "" as none.
    note: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
