"""The cards tables as Core objects, and the small helpers the hot path shares.

Card authentication and session lookup run on every tap, so they use these Core
tables directly (one statement per step, no ORM identity map or unit of work).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from backend.cards.models import Card, CardSession, Challenge

challenges = Challenge.__table__
cards = Card.__table__
card_sessions = CardSession.__table__


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without their zone; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
