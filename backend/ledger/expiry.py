"""Lapsing of unspent credit, as journal entries: never an edit of a balance alone.

Where a purse's rule says credit lapses, each beneficiary account whose credit expired
before `as_of` moves its whole balance to the programme's `expired` account. The
accounts table is walked in id ranges, one balanced entry and one transaction each;
the due accounts are locked as they are read (PostgreSQL: one statement per range), so
a redemption at the same moment either lands first (and less lapses) or finds the
credit gone.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from backend.db import Database
from backend.ledger import postings

ACCOUNTS = postings.ACCOUNTS
# Statements assembled from constant text only (no input): the same range filter thrice.
_DUE = ("programme = :programme AND purse = :purse AND owner_type IN ('citizen', "
        "'household') AND expires_on < :as_of AND balance > 0 AND id > :low AND id <= :high")
_LAPSE_POSTGRESQL = text(
    "WITH due AS (SELECT id, balance FROM ledger_accounts WHERE " + _DUE + " FOR UPDATE), "  # noqa: S608 # nosec B608
    "lapsed AS (UPDATE ledger_accounts a SET balance = 0 FROM due WHERE a.id = due.id "
    "AND a.id > :low AND a.id <= :high RETURNING a.id, due.balance AS amount), "
    "lines AS (INSERT INTO journal_lines (entry_id, line_no, account_id, amount, "
    "balance_after) SELECT :entry, 1 + row_number() OVER (ORDER BY id), id, -amount, 0 "
    "FROM lapsed RETURNING amount) "
    "SELECT count(*), coalesce(-sum(amount), 0) FROM lines")
_LAPSE_LINES = text(
    "INSERT INTO journal_lines (entry_id, line_no, account_id, amount, balance_after) "
    "SELECT :entry, 1 + row_number() OVER (ORDER BY id), id, -balance, 0 "
    "FROM ledger_accounts WHERE " + _DUE)  # nosec B608 - constant text
_LAPSE_BALANCES = text("UPDATE ledger_accounts SET balance = 0 WHERE " + _DUE)  # noqa: S608 # nosec B608
_DUE_TOTAL = text("SELECT count(*), coalesce(sum(balance), 0) FROM ledger_accounts "  # noqa: S608 # nosec B608
                  "WHERE " + _DUE)


def expire(db: Database, programme: str, purse: str, *, as_of: date,
           batch: int = 50_000) -> tuple[int, int]:
    """Lapse every credit of (programme, purse) that expired before `as_of`.

    Returns (accounts, amount) lapsed.
    """
    with db.transaction() as sess:
        top = sess.execute(select(func.max(ACCOUNTS.c.id))).scalar() or 0
    accounts = amount = 0
    for low in range(0, top, batch):
        span = {"programme": programme, "purse": purse, "as_of": as_of, "low": low,
                "high": low + batch}
        with db.transaction() as sess:
            count, total = _lapse(sess, span)
        accounts += count
        amount += total
    return accounts, amount


def _lapse(sess: Session, span: dict) -> tuple[int, int]:
    entry_id = postings.next_entry_id(sess)
    span = {**span, "entry": entry_id}
    if sess.get_bind().dialect.name == "postgresql":
        count, total = sess.execute(_LAPSE_POSTGRESQL, span).one()
    else:  # one writer at a time: read, write the lines, then zero the balances
        count, total = sess.execute(_DUE_TOTAL, span).one()
        if count:
            sess.execute(_LAPSE_LINES, span)
            sess.execute(_LAPSE_BALANCES, span)
    if not count:
        return 0, 0
    sink = postings.open_account(sess, span["programme"], span["purse"], postings.EXPIRED)
    after = sess.execute(ACCOUNTS.update().where(ACCOUNTS.c.id == sink)
                         .values(balance=ACCOUNTS.c.balance + total)
                         .returning(ACCOUNTS.c.balance)).scalar_one()
    sess.execute(postings.LINES.insert().values(entry_id=entry_id, line_no=1,
                                                account_id=sink, amount=total,
                                                balance_after=after))
    sess.execute(postings.ENTRIES.insert().values(
        id=entry_id, kind="expiry", programme=span["programme"], purse=span["purse"],
        amount=total, actor="expiry",
        details={"accounts": int(count), "as_of": span["as_of"].isoformat()},
        created_at=postings.entry_clock(sess)))
    return int(count), int(total)
