"""Posting to the ledger inside the caller's transaction: accounts, balanced entries.

Hot path of every redemption, so Core statements only (no ORM objects). The order
inside `post` is what the database's triggers expect: balances move first (each
`UPDATE ... RETURNING` takes the account's row lock and refuses to go below zero,
so two redemptions cannot spend the same credit), then the lines, then the entry row
that closes the entry (its insert checks the lines sum to zero).

An account's movements happen in the order their transactions take its row lock
(held until commit), so `post` takes the entry's id and time only once every lock
is held: whoever moves the account next waits for this commit, then gets a higher
id and a later time. Statements list lines by entry id, and their times agree.
PostgreSQL's `now()`/`CURRENT_TIMESTAMP` is the transaction's start, before the
locks (two redemptions may start in one order and lock in the other), hence
`entry_clock`. SQLite writers hold the database's one write lock from `BEGIN
IMMEDIATE` on, so every clock read inside the transaction is already after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from backend.errors import ApiError
from backend.ledger.models import Account, JournalEntry, JournalLine
from backend.reasons import Reason

ACCOUNTS = Account.__table__
LINES = JournalLine.__table__
ENTRIES = JournalEntry.__table__


@dataclass(frozen=True)
class Owner:
    """Whose account: a citizen, a household, a terminal, or the programme itself."""

    type: str
    ref: str

    @classmethod
    def of(cls, kind: str, ident: object) -> Owner:
        return cls(kind, str(ident))


FUNDING = Owner("programme", "funding")  # source of grants; may go below zero
EXPIRED = Owner("programme", "expired")  # where lapsed credit goes
SETTLED = Owner("programme", "settled")  # agents' takings once paid out
# What offline redemptions cost beyond the purse that signed them (backend/offline): the
# goods were handed over before the hub could see the balance, so it may go below zero.
OFFLINE_RISK = Owner("programme", "offline_risk")
# The accounts that may go below zero: each is a programme's own, never a beneficiary's.
MAY_GO_NEGATIVE = frozenset({FUNDING, OFFLINE_RISK})


@dataclass(frozen=True)
class Entry:
    """What a journal entry says about itself (the lines say what moved)."""

    kind: str
    programme: str
    purse: str | None = None
    period: str | None = None
    terminal_id: str | None = None
    actor: str | None = None
    citizen_id: int | None = None
    details: Mapping[str, Any] | None = None
    at: datetime | None = None  # default: `entry_clock`; a given time keeps ledger order


def next_entry_id(sess: Session) -> int:
    """An id for an entry about to be written (its lines are written before it).

    Taken after the entry's accounts are locked, ids follow each account's order of
    movements (the sequence must not be cached per session, as it is not: CACHE 1).
    """
    if sess.get_bind().dialect.name == "postgresql":
        return int(sess.execute(text("SELECT nextval('journal_entry_ids')")).scalar_one())
    # SQLite has one writer at a time; the id is taken inside that write transaction.
    return int(sess.execute(text("SELECT coalesce(max(id), 0) + 1 FROM journal_entries"))
               .scalar_one())


def entry_clock(sess: Session) -> Any:
    """The time to stamp on an entry written now, after its accounts are locked.

    PostgreSQL: `clock_timestamp()`, the moment the entry row is inserted, not the
    transaction's start. SQLite: `CURRENT_TIMESTAMP` of the statement, inside the
    transaction that holds the write lock. Allocation and expiry batches stamp their
    entry with it too: their entry row is written after every account they move.
    """
    if sess.get_bind().dialect.name == "postgresql":
        return func.clock_timestamp()
    return func.current_timestamp()


def find_account(sess: Session, programme: str, purse: str, owner: Owner) -> int | None:
    return sess.execute(
        select(ACCOUNTS.c.id).where(ACCOUNTS.c.programme == programme,
                                    ACCOUNTS.c.purse == purse,
                                    ACCOUNTS.c.owner_type == owner.type,
                                    ACCOUNTS.c.owner_ref == owner.ref)).scalar()


def open_account(sess: Session, programme: str, purse: str, owner: Owner) -> int:
    """The account's id, created at zero if missing (concurrent openers get the same)."""
    found = find_account(sess, programme, purse, owner)
    if found is not None:
        return found
    stmt = text("INSERT INTO ledger_accounts (programme, purse, owner_type, owner_ref, "
                "balance, allow_negative) VALUES (:p, :u, :t, :r, 0, :neg) "
                "ON CONFLICT DO NOTHING")
    sess.execute(stmt, {"p": programme, "u": purse, "t": owner.type, "r": owner.ref,
                        "neg": owner in MAY_GO_NEGATIVE})
    account = find_account(sess, programme, purse, owner)
    assert account is not None
    return account


def balance_of(sess: Session, account_id: int | None) -> int:
    if account_id is None:
        return 0
    value = sess.execute(select(ACCOUNTS.c.balance).where(ACCOUNTS.c.id == account_id))
    return int(value.scalar() or 0)


_MOVE = text(
    "UPDATE ledger_accounts SET balance = balance + :delta WHERE id = :id "
    "AND (allow_negative OR balance + :delta >= 0) "
    "AND (:delta >= 0 OR expires_on IS NULL OR expires_on >= :today) RETURNING balance")


@dataclass(frozen=True)
class Caps:
    """The most one account may be debited in a day and in a calendar month of the
    city's clock (a purse's `daily_cap` and `monthly_cap`; None: no cap). `zone` is the
    city's (CITY_TIMEZONE): a Jakarta shop's day starts at 17:00 UTC, not at midnight."""

    account_id: int
    daily: int | None = None
    monthly: int | None = None
    zone: str = "UTC"


def post(sess: Session, entry: Entry, legs: Sequence[tuple[int, int]],
         today: date | None = None, caps: Caps | None = None) -> tuple[int, dict[int, int]]:
    """Write one balanced entry moving `legs` ((account_id, signed amount)).

    Returns the entry id and each account's balance after it. Refuses, before the
    caller's transaction can commit anything, `insufficient_balance` or
    `credit_expired` naming the account, and with `caps`, `daily_cap_exceeded` or
    `monthly_cap_exceeded` (see `check_caps`).
    """
    if sum(amount for _, amount in legs) != 0 or len(legs) < 2:
        raise ValueError("a journal entry's legs must sum to zero")
    today = today or date.today()
    after: dict[int, int] = {}
    # Lock accounts in id order so two entries touching the same pair cannot deadlock.
    for account_id, amount in sorted(legs):
        row = sess.execute(_MOVE, {"delta": amount, "id": account_id, "today": today}).first()
        if row is None:
            _refuse_debit(sess, account_id, -amount, today)
        after[account_id] = int(row[0])
    if caps is not None:
        check_caps(sess, caps, -sum(a for acc, a in legs if acc == caps.account_id))
    entry_id = next_entry_id(sess)
    sess.execute(insert(LINES), [
        {"entry_id": entry_id, "line_no": number, "account_id": account_id,
         "amount": amount, "balance_after": after[account_id]}
        for number, (account_id, amount) in enumerate(legs, start=1)])
    sess.execute(insert(ENTRIES).values(
        id=entry_id, kind=entry.kind, programme=entry.programme, purse=entry.purse,
        period=entry.period, amount=sum(a for _, a in legs if a > 0),
        terminal_id=entry.terminal_id, actor=entry.actor, citizen_id=entry.citizen_id,
        details=dict(entry.details) if entry.details else None,
        created_at=entry.at or entry_clock(sess)))
    return entry_id, after


# Debits the ledger writes itself (lapsed credit) are not spending, so no cap counts them.
NOT_SPENDING = ("expiry",)


def check_caps(sess: Session, caps: Caps, amount: int, now: datetime | None = None) -> None:
    """Refuse a debit of `amount` that would take the account's debits this local day
    (`daily_cap_exceeded`) or calendar month (`monthly_cap_exceeded`) past its cap.

    Called by `post` once the account's row is locked by its balance's move, so the
    lock that keeps two redemptions from spending the same credit also keeps them from
    both passing a cap: the second waits for the first to commit, and its sum (a new
    statement, read committed) counts the first's lines. Counts committed entries by
    their time (`created_at`, the database's clock, UTC) from the local day's or
    month's first instant by this process's clock.
    """
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(caps.zone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for cap, since, reason, span in (
            (caps.daily, day, Reason.DAILY_CAP_EXCEEDED, "day"),
            (caps.monthly, day.replace(day=1), Reason.MONTHLY_CAP_EXCEEDED, "month")):
        if cap is None:
            continue
        spent = spent_since(sess, caps.account_id, since.astimezone(UTC))
        if spent + amount > cap:
            raise ApiError(reason, f"this credit allows {cap} a {span}; {spent} is spent "
                           f"already, {amount} more would pass it", 409,
                           {"cap": cap, "spent": spent, "amount": amount})


def spent_since(sess: Session, account_id: int, since: datetime) -> int:
    """The account's debits (ledger expiry aside) in entries written at or after `since`."""
    if sess.get_bind().dialect.name == "sqlite":
        since = since.astimezone(UTC).replace(tzinfo=None)  # stored as naive UTC text
    total = sess.execute(
        select(func.coalesce(func.sum(-LINES.c.amount), 0))
        .select_from(LINES.join(ENTRIES, ENTRIES.c.id == LINES.c.entry_id))
        .where(LINES.c.account_id == account_id, LINES.c.amount < 0,
               ENTRIES.c.kind.not_in(NOT_SPENDING), ENTRIES.c.created_at >= since))
    return int(total.scalar_one())


def _refuse_debit(sess: Session, account_id: int, amount: int, today: date) -> NoReturn:
    row = sess.execute(select(ACCOUNTS.c.balance, ACCOUNTS.c.expires_on)
                       .where(ACCOUNTS.c.id == account_id)).one()
    if row.expires_on is not None and row.expires_on < today and row.balance > 0:
        raise ApiError(Reason.CREDIT_EXPIRED, f"this credit expired on {row.expires_on}",
                       409, {"expired_on": row.expires_on.isoformat()})
    raise ApiError(Reason.INSUFFICIENT_BALANCE,
                   f"the balance {row.balance} does not cover {amount}", 409,
                   {"balance": int(row.balance), "amount": amount})


def recent_lines(sess: Session, account_id: int | None, limit: int = 10, *,
                 terminal_id: str | None = None) -> list[dict[str, Any]]:
    """An account's latest movements, newest first, as a statement shows them; with
    `terminal_id`, only those that terminal wrote (a shop's own sales).

    In entry id order, which is the order the account's balance moved (see the
    module's docstring), and an index scan of the account's latest lines."""
    if account_id is None:
        return []
    query = (
        select(LINES.c.entry_id, LINES.c.amount, LINES.c.balance_after, ENTRIES.c.kind,
               ENTRIES.c.terminal_id, ENTRIES.c.period, ENTRIES.c.created_at,
               ENTRIES.c.details)
        .join(ENTRIES, ENTRIES.c.id == LINES.c.entry_id)
        .where(LINES.c.account_id == account_id))
    if terminal_id is not None:
        query = query.where(ENTRIES.c.terminal_id == terminal_id)
    rows = sess.execute(query.order_by(LINES.c.entry_id.desc()).limit(limit))
    return [{"entry_id": r.entry_id, "kind": r.kind, "amount": int(r.amount),
             "balance_after": int(r.balance_after), "terminal_id": r.terminal_id,
             "period": r.period, "at": r.created_at.isoformat() if r.created_at else None,
             "details": r.details or {}} for r in rows]
