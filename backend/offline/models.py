"""What the hub recorded of each offline redemption an agent's daemon synced.

One row per (terminal, idempotency key), whatever the verdict, so a repeat of the key
answers the same result. The card's certificate hash and signature are kept with it:
with the fields and the hub's origin they let anyone re-check that the card agreed
(`card_reader.offline_wire.OfflineRedemption.signed_bytes`). A terminal's counter is
used by one accepted redemption only (the unique index leaves refused rows out: a
refusal may carry a counter that an accepted one already has).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

STATUSES = ("posted", "shortfall", "refused")
ACCEPTED_WHERE = "status IN ('posted', 'shortfall')"


class OfflineRedemptionRow(Base):
    __tablename__ = "offline_redemptions"
    __table_args__ = (
        UniqueConstraint("terminal_id", "key"),
        CheckConstraint("status IN ('posted', 'shortfall', 'refused')", name="status_known"),
        CheckConstraint("paid >= 0 AND shortfall >= 0 AND paid + shortfall <= amount",
                        name="amounts_in_range"),
        CheckConstraint("status = 'refused' OR (entry_id IS NOT NULL AND "
                        "paid + shortfall = amount)", name="accepted_posted"),
        Index("uq_offline_redemptions_terminal_counter", "terminal_id", "counter",
              unique=True, postgresql_where=text(ACCEPTED_WHERE),
              sqlite_where=text(ACCEPTED_WHERE)),
        # The agent's day (caps, signals) and the card's day (its cap).
        Index("ix_offline_redemptions_terminal_redeemed", "terminal_id", "redeemed_at"),
        Index("ix_offline_redemptions_card_redeemed", "card_id", "redeemed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(32))
    counter: Mapped[int] = mapped_column(BigInteger)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    citizen_id: Mapped[int | None] = mapped_column(BigInteger)
    programme: Mapped[str] = mapped_column(String(40))
    purse: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str | None] = mapped_column(String(40))
    redeemed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True),
                                                     server_default=func.current_timestamp())
    crl_number: Mapped[int] = mapped_column(BigInteger)
    cert_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12))
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    shortfall: Mapped[int] = mapped_column(BigInteger, default=0)
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(40))


class OfflineCrlServed(Base):
    """When a terminal was first given each CRL in its bundle (hub's clock).

    The daemon names the CRL it judged a card by; this is how the hub knows the
    terminal really held it at the claimed time. A redemption dated before the
    terminal had that CRL, or after it had a newer one listing the card, is refused:
    without it an agent could date a redemption into a past day (its caps again) or
    judge a revoked card by an old list. One row per terminal and CRL number: the CRL
    is re-signed hourly, the bundle fetched every few minutes.
    """

    __tablename__ = "offline_crls_served"

    terminal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    crl_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first_served_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

