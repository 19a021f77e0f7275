"""Periodic allocation over the whole registry, in set-based SQL, resumable, idempotent.

A run walks the beneficiary id range in batches. Each batch is one transaction of
five statements, whatever its size: open missing accounts (INSERT ... SELECT ... ON
CONFLICT DO NOTHING), insert grants the same way (the UNIQUE (programme, period,
beneficiary) makes a re-run a no-op), add the new grants to the balances, write their
journal lines, and close the batch's journal entry against the programme's funding
account. The run's progress row moves in the same transaction, and is locked first,
so a run killed at any point resumes after its last committed batch and two runners
of the same allocation take turns instead of racing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, and_, cast, func, literal, select, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.db import Database
from backend.ledger import postings
from backend.ledger.models import Account, AllocationRun, Grant, Purse
from backend.services import Allocation, Period, ServiceModule, registry_tables

ACCOUNTS = Account.__table__
GRANTS = Grant.__table__
RUNS = AllocationRun.__table__
PURSES = Purse.__table__


@dataclass(frozen=True)
class Outcome:
    programme: str
    purse: str
    period: str
    granted: int  # grants written by this call
    amount: int
    batches: int


def sync_purses(sess: Session, module: ServiceModule) -> None:
    """Write the module's purse rules as data, where reports and auditors read them."""
    insert = _insert_for(sess)
    for name, rule in module.purses.items():
        values = {"holder": rule.holder, "cashable": rule.cashable,
                  "carry_over": rule.carry_over,
                  "categories": sorted(rule.categories) if rule.categories else None,
                  "expires_after_days": rule.expires_after_days}
        sess.execute(insert(PURSES).values(programme=module.key, purse=name, **values)
                     .on_conflict_do_update(index_elements=["programme", "purse"], set_=values))


def allocate(db: Database, module: ServiceModule, allocation: Allocation, period: Period,
             *, batch: int = 50_000, rescan: bool = False,
             after_batch: Callable[[int, int], None] | None = None) -> Outcome:
    """Grant `allocation` for `period` to every beneficiary not granted yet."""
    if period.cadence != allocation.cadence:
        raise ValueError(f"{module.key} allocates {allocation.cadence}, not {period.key}")
    rule = module.purses[allocation.purse]
    with db.transaction() as sess:
        sync_purses(sess, module)
        _start_run(sess, module.key, allocation.purse, period.key, rescan)
    if not rule.carry_over:
        from backend.ledger.expiry import expire

        expire(db, module.key, allocation.purse, as_of=period.start, batch=batch)
    granted = amount = batches = 0
    while True:
        with db.transaction() as sess:
            done = _batch(sess, module, allocation, period, batch)
        if done is None:
            break
        batches += 1
        granted += done[0]
        amount += done[1]
        if after_batch is not None:
            after_batch(done[0], done[2])
    return Outcome(module.key, allocation.purse, period.key, granted, amount, batches)


def _start_run(sess: Session, programme: str, purse: str, period: str, rescan: bool) -> None:
    insert = _insert_for(sess)
    sess.execute(insert(RUNS).values(programme=programme, purse=purse, period=period,
                                     last_id=0, granted=0, amount=0)
                 .on_conflict_do_nothing())
    if rescan:
        sess.execute(RUNS.update().where(*_run_key(programme, purse, period))
                     .values(last_id=0, finished_at=None))


def _run_key(programme: str, purse: str, period: str) -> tuple:
    return (RUNS.c.programme == programme, RUNS.c.purse == purse, RUNS.c.period == period)


def _batch(sess: Session, module: ServiceModule, allocation: Allocation, period: Period,
           size: int) -> tuple[int, int, int] | None:
    """One batch: (grants, amount, last id), or None once the range is walked."""
    key = _run_key(module.key, allocation.purse, period.key)
    # The no-op update takes the run's row lock (a write lock on SQLite) before reading.
    low = sess.execute(RUNS.update().where(*key).values(last_id=RUNS.c.last_id)
                       .returning(RUNS.c.last_id)).scalar_one()
    holder = module.purses[allocation.purse].holder
    tables = registry_tables()
    driver = tables.households if holder == "household" else tables.citizens
    top = sess.execute(select(func.max(driver.c.id))).scalar() or 0
    if low >= top:
        sess.execute(RUNS.update().where(*key, RUNS.c.finished_at.is_(None))
                     .values(finished_at=func.current_timestamp()))
        return None
    high = min(low + size, top)
    eligible = allocation.beneficiaries(tables, period, module.config, low, high).subquery("e")
    entry_id = postings.next_entry_id(sess)
    _open_accounts(sess, module.key, allocation.purse, holder, eligible)
    _insert_grants(sess, module.key, allocation.purse, holder, period.key, eligible, entry_id)
    count, total = _post_grants(sess, module, allocation, period, entry_id)
    sess.execute(RUNS.update().where(*key).values(
        last_id=high, granted=RUNS.c.granted + count, amount=RUNS.c.amount + total))
    return count, total, high


def _owner_ref(eligible) -> object:  # type: ignore[no-untyped-def]
    return cast(eligible.c.beneficiary_id, String(64))


def _open_accounts(sess: Session, programme: str, purse: str, holder: str, eligible) -> None:  # type: ignore[no-untyped-def]
    rows = select(literal(programme), literal(purse), literal(holder), _owner_ref(eligible),
                  literal(0), literal(False)).select_from(eligible).where(true())
    sess.execute(_insert_for(sess)(ACCOUNTS).from_select(
        ["programme", "purse", "owner_type", "owner_ref", "balance", "allow_negative"], rows)
        .on_conflict_do_nothing())


def _insert_grants(sess: Session, programme: str, purse: str, holder: str, period: str,
                   eligible, entry_id: int) -> None:  # type: ignore[no-untyped-def]
    account = and_(ACCOUNTS.c.programme == programme, ACCOUNTS.c.purse == purse,
                   ACCOUNTS.c.owner_type == holder,
                   ACCOUNTS.c.owner_ref == _owner_ref(eligible))
    rows = (select(literal(programme), literal(purse), literal(period), literal(holder),
                   _owner_ref(eligible), eligible.c.citizen_id, ACCOUNTS.c.id,
                   eligible.c.amount, literal(entry_id))
            .select_from(eligible.join(ACCOUNTS, account)).where(eligible.c.amount > 0))
    sess.execute(_insert_for(sess)(GRANTS).from_select(
        ["programme", "purse", "period", "beneficiary_type", "beneficiary_ref", "citizen_id",
         "account_id", "amount", "entry_id"], rows).on_conflict_do_nothing())


_CREDIT = text("UPDATE ledger_accounts SET balance = ledger_accounts.balance + g.amount, "
               "expires_on = coalesce(:expires, ledger_accounts.expires_on) "
               "FROM ledger_grants g WHERE g.entry_id = :entry "
               "AND ledger_accounts.id = g.account_id")
_LINES = text("INSERT INTO journal_lines (entry_id, line_no, account_id, amount, balance_after) "
              "SELECT :entry, 1 + row_number() OVER (ORDER BY g.id), g.account_id, g.amount, "
              "a.balance FROM ledger_grants g JOIN ledger_accounts a ON a.id = g.account_id "
              "WHERE g.entry_id = :entry")
_TOTAL = text("SELECT count(*), coalesce(sum(amount), 0) FROM ledger_grants "
              "WHERE entry_id = :entry")


def _post_grants(sess: Session, module: ServiceModule, allocation: Allocation,
                 period: Period, entry_id: int) -> tuple[int, int]:
    """Balances, lines and the closing entry for the grants this batch inserted."""
    count, total = sess.execute(_TOTAL, {"entry": entry_id}).one()
    if not count:
        return 0, 0
    expires: date | None = module.purses[allocation.purse].expires_on(period)
    sess.execute(_CREDIT, {"entry": entry_id, "expires": expires})
    sess.execute(_LINES, {"entry": entry_id})
    funding = postings.open_account(sess, module.key, allocation.purse, postings.FUNDING)
    after = sess.execute(postings.ACCOUNTS.update().where(postings.ACCOUNTS.c.id == funding)
                         .values(balance=postings.ACCOUNTS.c.balance - total)
                         .returning(postings.ACCOUNTS.c.balance)).scalar_one()
    sess.execute(postings.LINES.insert().values(entry_id=entry_id, line_no=1,
                                                account_id=funding, amount=-total,
                                                balance_after=after))
    sess.execute(postings.ENTRIES.insert().values(
        id=entry_id, kind="grant", programme=module.key, purse=allocation.purse,
        period=period.key, amount=total, actor="allocation",
        details={"grants": int(count)}))
    return int(count), int(total)


def _insert_for(sess: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if sess.get_bind().dialect.name == "postgresql" else sqlite.insert
