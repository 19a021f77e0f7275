"""The issuance job: one card being made for one citizen at one enrolment desk.

The steps and their rules are in `desk.py`; the table also holds the rules a row can
check by itself (which columns each status needs, one open job per citizen), so a
bug in the steps cannot leave a job that claims more than happened.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

# requested -> claimed -> keys_certified -> active; failed (claimable again) or cancelled.
STATUSES = ("requested", "claimed", "keys_certified", "active", "failed", "cancelled")
# A citizen has at most one job in these: a second start is refused until it ends.
OPEN_STATUSES = ("requested", "claimed", "keys_certified", "failed")
# A desk holds a job in these between its claim and its activation or failure.
HELD_STATUSES = ("claimed", "keys_certified")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


OPEN_WHERE = _in("status", OPEN_STATUSES)


class IssuanceJob(Base):
    """Who asked for a card for whom, at which desk, and how far it got.

    `desk_id` NULL is the issuing office's own console (`satukartu card issue`). The
    serial, card UUID and expiry are the current attempt's, chosen by the hub at each
    claim; the certificates are kept from certification until activation (the card's
    row then keeps their fingerprints) and dropped when the attempt ends otherwise.
    """

    __tablename__ = "issuance_jobs"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("status NOT IN ('claimed', 'keys_certified', 'active') OR "
                        "(serial IS NOT NULL AND card_uuid IS NOT NULL AND "
                        "expires_at IS NOT NULL)", name="claim_made"),
        CheckConstraint("status != 'keys_certified' OR "
                        "(cert_9a IS NOT NULL AND cert_9e IS NOT NULL)", name="keys_certified"),
        CheckConstraint("status != 'active' OR card_id IS NOT NULL", name="active_card"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("uq_issuance_jobs_one_open_per_citizen", "citizen_id", unique=True,
              postgresql_where=text(OPEN_WHERE), sqlite_where=text(OPEN_WHERE)),
        Index("ix_issuance_jobs_desk_status", "desk_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    desk_id: Mapped[str | None] = mapped_column(ForeignKey("terminals.id"))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    old_reason: Mapped[str] = mapped_column(String(24), default="superseded")
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    serial: Mapped[str | None] = mapped_column(String(20))
    card_uuid: Mapped[str | None] = mapped_column(String(36))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cert_9a: Mapped[bytes | None] = mapped_column(LargeBinary)
    cert_9e: Mapped[bytes | None] = mapped_column(LargeBinary)
    certified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    failure: Mapped[str | None] = mapped_column(String(200))
    failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp())
