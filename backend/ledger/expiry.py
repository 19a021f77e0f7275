"""Lapsing of unspent credit, as journal entries: never an edit of a balance alone.

Where a purse's rule says credit lapses, each beneficiary account whose credit expired
before `as_of` moves its whole balance to the programme's `expired` account. Batches
of accounts, one balanced entry and one transaction each; the accounts are locked
before they are read, so a redemption at the same moment either lands first (and
less lapses) or finds the credit gone.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend.db import Database
from backend.ledger import postings

ACCOUNTS = postings.ACCOUNTS


def expire(db: Database, programme: str, purse: str, *, as_of: date,
           batch: int = 50_000) -> tuple[int, int]:
    """Lapse every credit of (programme, purse) that expired before `as_of`.

    Returns (accounts, amount) lapsed.
    """
    accounts = amount = 0
    while True:
        with db.transaction() as sess:
            done = _expire_batch(sess, programme, purse, as_of, batch)
        if done is None:
            return accounts, amount
        accounts += done[0]
        amount += done[1]


def _due(programme: str, purse: str, as_of: date):  # type: ignore[no-untyped-def]
    return (ACCOUNTS.c.programme == programme, ACCOUNTS.c.purse == purse,
            ACCOUNTS.c.owner_type.in_(("citizen", "household")),
            ACCOUNTS.c.expires_on < as_of, ACCOUNTS.c.balance > 0)


_LAPSE_LINES = text(
    "INSERT INTO journal_lines (entry_id, line_no, account_id, amount, balance_after) "
    "SELECT :entry, 1 + row_number() OVER (ORDER BY id), id, -balance, 0 "
    "FROM ledger_accounts WHERE programme = :programme AND purse = :purse "
    "AND owner_type IN ('citizen', 'household') AND expires_on < :as_of AND balance > 0 "
    "AND id BETWEEN :first AND :last")
_LAPSE_BALANCES = text(
    "UPDATE ledger_accounts SET balance = 0 WHERE programme = :programme AND purse = :purse "
    "AND owner_type IN ('citizen', 'household') AND expires_on < :as_of AND balance > 0 "
    "AND id BETWEEN :first AND :last")


def _expire_batch(sess: Session, programme: str, purse: str, as_of: date,
                  size: int) -> tuple[int, int] | None:
    due = _due(programme, purse, as_of)
    locked = sess.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.balance).where(*due)
                          .order_by(ACCOUNTS.c.id).limit(size).with_for_update()).all()
    if not locked:
        return None
    first, last = locked[0].id, locked[-1].id
    total = sum(int(row.balance) for row in locked)
    span = {"programme": programme, "purse": purse, "as_of": as_of, "first": first,
            "last": last}
    entry_id = postings.next_entry_id(sess)
    sess.execute(_LAPSE_LINES, {"entry": entry_id, **span})
    sess.execute(_LAPSE_BALANCES, span)
    sink = postings.open_account(sess, programme, purse, postings.EXPIRED)
    after = sess.execute(ACCOUNTS.update().where(ACCOUNTS.c.id == sink)
                         .values(balance=ACCOUNTS.c.balance + total)
                         .returning(ACCOUNTS.c.balance)).scalar_one()
    sess.execute(postings.LINES.insert().values(entry_id=entry_id, line_no=1,
                                                account_id=sink, amount=total,
                                                balance_after=after))
    sess.execute(postings.ENTRIES.insert().values(
        id=entry_id, kind="expiry", programme=programme, purse=purse, amount=total,
        actor="expiry", details={"accounts": len(locked), "as_of": as_of.isoformat()}))
    return len(locked), total
