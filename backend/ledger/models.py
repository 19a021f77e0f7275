"""Ledger tables: every money-like balance of every programme, in double entry.

Invariants, each held by the database as well as the code:
- a journal entry's lines sum to zero (checked when the entry row is inserted, after
  its lines: a deferred constraint trigger on PostgreSQL, a trigger on SQLite);
- entries and lines are never updated or deleted (triggers refuse it); no line joins
  an entry already written;
- a beneficiary's balance is never negative (CHECK), and moves in the same
  transaction as its lines (`UPDATE ... WHERE balance >= amount RETURNING`);
- one grant per programme, period and beneficiary (UNIQUE), so allocations re-run
  as no-ops.

On PostgreSQL the journal's entries and lines are partitioned by month of their
posting transaction (migration 0017): a column the models leave out, `posted_at`,
which every row of one posting takes by default, so the code never names it. The
database's keys on it are why a line, grant or settlement must be written in the
same transaction as its entry, as the code always does.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer, "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


def _now() -> Any:
    return func.current_timestamp()


class Purse(Base):
    """A purse's rules, as the programme declared them (synchronised by the hub)."""

    __tablename__ = "ledger_purses"

    programme: Mapped[str] = mapped_column(String(40), primary_key=True)
    purse: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(16))
    cashable: Mapped[bool] = mapped_column(Boolean, default=False)
    carry_over: Mapped[bool] = mapped_column(Boolean, default=True)
    categories: Mapped[list[str] | None] = mapped_column(Json, nullable=True)
    expires_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Account(Base):
    """One balance: a beneficiary's purse, an agent's takings, a programme's funding.

    `owner_type` is citizen | household | terminal | programme; `owner_ref` the id as
    text. Only programme accounts (the source of grants) may go below zero.
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("programme", "purse", "owner_type", "owner_ref"),
        CheckConstraint("allow_negative OR balance >= 0", name="balance_not_negative"),
        CheckConstraint("owner_type IN ('citizen', 'household', 'terminal', 'programme')",
                        name="owner_type_known"),
        Index("ix_ledger_accounts_owner_id", "programme", "purse", "owner_type", "owner_id"),
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    programme: Mapped[str] = mapped_column(String(40))
    purse: Mapped[str] = mapped_column(String(40))
    owner_type: Mapped[str] = mapped_column(String(16))
    owner_ref: Mapped[str] = mapped_column(String(64))
    # owner_ref as a number for citizens and households: batches find their accounts
    # by an id range on this (indexed) column.
    owner_id: Mapped[int | None] = mapped_column(BigInteger, Computed(
        "CASE WHEN owner_type IN ('citizen', 'household') THEN CAST(owner_ref AS BIGINT) END",
        persisted=True))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class JournalEntry(Base):
    """One balanced movement; its id is the receipt number. Written after its lines.

    `kind`: grant | spend | withdrawal | fare | expiry | settlement | credit.
    """

    __tablename__ = "journal_entries"
    __table_args__ = (
        Index("ix_journal_entries_programme_created", "programme", "created_at"),
        Index("ix_journal_entries_terminal_created", "terminal_id", "created_at"),
        Index("ix_journal_entries_citizen_created", "citizen_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(20))
    programme: Mapped[str] = mapped_column(String(40))
    purse: Mapped[str | None] = mapped_column(String(40), nullable=True)
    period: Mapped[str | None] = mapped_column(String(16), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # total moved (sum of positive lines)
    terminal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(120), nullable=True)
    citizen_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class JournalLine(Base):
    """A signed change of one account's balance (+ in, - out) and the balance after it."""

    __tablename__ = "journal_lines"
    __table_args__ = (Index("ix_journal_lines_account_entry", "account_id", "entry_id"),)

    entry_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("journal_entries.id", deferrable=True, initially="DEFERRED"),
        primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)


class Grant(Base):
    """A periodic entitlement paid: at most one per programme, period and beneficiary.

    Its account is the beneficiary's for the grant's purse; its entry holds the line.
    """

    __tablename__ = "ledger_grants"
    __table_args__ = (
        UniqueConstraint("programme", "period", "beneficiary_type", "beneficiary_ref"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_ledger_grants_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    programme: Mapped[str] = mapped_column(String(40))
    purse: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(16))
    beneficiary_type: Mapped[str] = mapped_column(String(16))
    beneficiary_ref: Mapped[str] = mapped_column(String(64))
    citizen_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("journal_entries.id", deferrable=True, initially="DEFERRED"))


class AllocationRun(Base):
    """Progress of one allocation part, advanced in each batch's transaction (resumable)."""

    __tablename__ = "ledger_allocation_runs"

    programme: Mapped[str] = mapped_column(String(40), primary_key=True)
    purse: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    # A district code when the period is split by district, else "all" (migration 0015).
    part: Mapped[str] = mapped_column(String(16), primary_key=True, server_default="all")
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    granted: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                         nullable=True)


class IdempotencyKey(Base):
    """A mutating request's key and its first answer, per caller."""

    __tablename__ = "ledger_idempotency_keys"

    scope: Mapped[str] = mapped_column(String(160), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Settlement(Base):
    """An agent's day closed: every takings line of that day, moved to the payout."""

    __tablename__ = "ledger_settlements"
    __table_args__ = (UniqueConstraint("programme", "terminal_id", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    programme: Mapped[str] = mapped_column(String(40))
    terminal_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    redemptions: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("journal_entries.id", deferrable=True, initially="DEFERRED"),
        nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class ServiceFact(Base):
    """A fact one module records and others read (a clinic visit read by family hope)."""

    __tablename__ = "service_facts"
    __table_args__ = (
        Index("ix_service_facts_kind_citizen", "programme", "kind", "citizen_id",
              "occurred_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    programme: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    citizen_id: Mapped[int] = mapped_column(BigInteger)
    occurred_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    terminal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
