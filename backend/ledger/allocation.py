"""Periodic allocation over the whole registry, in set-based SQL, resumable, idempotent.

A run walks the beneficiary id range in batches. Each batch is one transaction of
five statements, whatever its size: open missing accounts (INSERT ... SELECT ... ON
CONFLICT DO NOTHING), insert grants the same way (the UNIQUE (programme, period,
beneficiary) makes a re-run a no-op), add the new grants to the balances, write their
journal lines, and close the batch's journal entry against the programme's funding
account. The run's progress row moves in the same transaction, and is locked first,
so a run killed at any point resumes after its last committed batch and two runners
of the same allocation take turns instead of racing.

A run is one part of the registry (`backend.ledger.parts`): the whole of it, or one
district when the period is split across workers (`backend.ledger.split`). Each part
has its own progress row; the batch is the same code whichever part it walks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    Subquery,
    and_,
    cast,
    exists,
    func,
    literal,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from backend.db import Database, dialect_insert
from backend.ledger import postings
from backend.ledger.models import Account, AllocationRun, Grant, Purse, ServiceFact
from backend.ledger.parts import WHOLE, Part
from backend.registry import models as reg
from backend.registry.dedup.models import DuplicateCandidate
from backend.services import Allocation, Period, RegistryTables, ServiceModule

ACCOUNTS = Account.__table__
LINES = postings.LINES
GRANTS = Grant.__table__
RUNS = AllocationRun.__table__
DUPLICATES = DuplicateCandidate.__table__
PURSES = Purse.__table__


@dataclass(frozen=True)
class Outcome:
    programme: str
    purse: str
    period: str
    granted: int  # grants written by this call
    amount: int
    batches: int
    part: str = WHOLE.key


def registry_tables() -> RegistryTables:
    """The registry's tables, and the compliance facts modules record, as an
    `Allocation`'s select sees them."""
    return RegistryTables(reg.Citizen.__table__, reg.Household.__table__,
                          reg.HouseholdMember.__table__, reg.SchoolEnrolment.__table__,
                          reg.HealthAssignment.__table__, ServiceFact.__table__)


def sync_purses(sess: Session, module: ServiceModule) -> None:
    """Write the module's purse rules as data, where reports and auditors read them."""
    insert = dialect_insert(sess)
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
    """Grant `allocation` for `period` to every beneficiary not granted yet: the
    period as one part, in this process."""
    prepare(db, module, allocation, period, [WHOLE], rescan=rescan, batch=batch)
    return allocate_part(db, module, allocation, period, WHOLE, batch=batch,
                         after_batch=after_batch)


def prepare(db: Database, module: ServiceModule, allocation: Allocation, period: Period,
            parts: list[Part], *, rescan: bool = False, batch: int = 50_000) -> None:
    """What a period needs once before any part grants: the purse rules written, a
    progress row per part, and last period's credit lapsed where it does not carry
    over (done once here, not by each part, so parts never lapse what another has
    just granted). Safe to repeat."""
    if period.cadence != allocation.cadence:
        raise ValueError(f"{module.key} allocates {allocation.cadence}, not {period.key}")
    with db.transaction() as sess:
        sync_purses(sess, module)
        for part in parts:
            _start_run(sess, module.key, allocation.purse, period.key, part.key, rescan)
    if not module.purses[allocation.purse].carry_over:
        from backend.ledger.expiry import expire

        expire(db, module.key, allocation.purse, as_of=period.start, batch=batch)


def allocate_part(db: Database, module: ServiceModule, allocation: Allocation,
                  period: Period, part: Part, *, batch: int = 50_000,
                  after_batch: Callable[[int, int], None] | None = None) -> Outcome:
    """Walk one prepared part batch by batch, from its last committed batch on."""
    granted = amount = batches = 0
    while True:
        with db.transaction() as sess:
            done = _batch(sess, module, allocation, period, part, batch)
        if done is None:
            break
        batches += 1
        granted += done[0]
        amount += done[1]
        if after_batch is not None:
            after_batch(done[0], done[2])
    return Outcome(module.key, allocation.purse, period.key, granted, amount, batches,
                   part.key)


def _start_run(sess: Session, programme: str, purse: str, period: str, part: str,
               rescan: bool) -> None:
    insert = dialect_insert(sess)
    sess.execute(insert(RUNS).values(programme=programme, purse=purse, period=period,
                                     part=part, last_id=0, granted=0, amount=0)
                 .on_conflict_do_nothing())
    if rescan:
        sess.execute(RUNS.update().where(*run_key(programme, purse, period, part))
                     .values(last_id=0, finished_at=None))


def run_key(programme: str, purse: str, period: str, part: str) -> tuple:
    """The WHERE clause of one part's progress row."""
    return (RUNS.c.programme == programme, RUNS.c.purse == purse, RUNS.c.period == period,
            RUNS.c.part == part)


def _batch(sess: Session, module: ServiceModule, allocation: Allocation, period: Period,
           part: Part, size: int) -> tuple[int, int, int] | None:
    """One batch: (grants, amount, last id), or None once the part is walked."""
    key = run_key(module.key, allocation.purse, period.key, part.key)
    # The no-op update takes the run's row lock (a write lock on SQLite) before reading.
    low = sess.execute(RUNS.update().where(*key).values(last_id=RUNS.c.last_id)
                       .returning(RUNS.c.last_id)).scalar_one_or_none()
    if low is None:
        raise LookupError(f"{module.key}/{allocation.purse} {period.key} part {part.key} "
                          "was never prepared")
    rule = module.purses[allocation.purse]
    tables = registry_tables()
    driver = tables.households if rule.holder == "household" else tables.citizens
    high = part.next_high(sess, driver, low, size)
    if high is None:
        sess.execute(RUNS.update().where(*key, RUNS.c.finished_at.is_(None))
                     .values(finished_at=func.current_timestamp()))
        return None
    batch = GrantBatch(module.key, allocation.purse, rule.holder, period.key,
                       postings.next_entry_id(sess), rule.expires_on(period), low, high,
                       part.dense)
    eligible = not_duplicates(part.restrict(
        allocation.beneficiaries(tables, period, module.config, low, high), driver, low, high))
    post = _post_postgresql if sess.get_bind().dialect.name == "postgresql" else _post_stepwise
    count, total = post(sess, batch, eligible)
    if count:
        _close_entry(sess, batch, count, total)
    sess.execute(RUNS.update().where(*key).values(
        last_id=high, granted=RUNS.c.granted + count, amount=RUNS.c.amount + total))
    return count, total, high


def not_duplicates(eligible: Select) -> Select:
    """The module's beneficiaries less those whose citizen a clerk found to be a second
    registration of another person (`backend.registry.dedup.review.decide`): the person
    is granted once, under the first record. The module's rule knows nothing of the
    queue; the hub applies it to every allocation, as `backend.services.authorise`
    does to every action. A record whose pair is still open is granted as any other."""
    e = eligible.subquery("listed")
    return select(e).where(~exists(select(DUPLICATES.c.id).where(
        DUPLICATES.c.new_citizen_id == e.c.citizen_id,
        DUPLICATES.c.status == "same_person")))


@dataclass(frozen=True)
class GrantBatch:
    programme: str
    purse: str
    holder: str
    period: str
    entry_id: int
    expires_on: date | None
    low: int
    high: int
    dense: bool = True  # every id in (low, high] is the part's: see Part.dense

    def owner(self, column: Any) -> ColumnElement[bool]:
        """The beneficiary's account, looked up within the batch's id range (an index
        range scan of the batch's accounts, not a pass over every account) when the
        range is the batch's own; by its key alone when the range is a district's
        sparse share of many others' (a range scan per row there grew quadratically)."""
        found = and_(ACCOUNTS.c.programme == self.programme, ACCOUNTS.c.purse == self.purse,
                     ACCOUNTS.c.owner_type == self.holder, ACCOUNTS.c.owner_ref == column)
        if not self.dense:
            return found
        return and_(found, ACCOUNTS.c.owner_id > self.low, ACCOUNTS.c.owner_id <= self.high)


def _grant_rows(batch: GrantBatch, eligible: Subquery) -> tuple[Select, list[str]]:
    """INSERT INTO ledger_grants ... SELECT from the module's select, existing ones kept."""
    rows = (select(literal(batch.programme), literal(batch.purse), literal(batch.period),
                   literal(batch.holder), cast(eligible.c.beneficiary_id, String(64)),
                   eligible.c.citizen_id, eligible.c.amount, literal(batch.entry_id))
            .select_from(eligible).where(eligible.c.amount > 0))
    return rows, ["programme", "purse", "period", "beneficiary_type", "beneficiary_ref",
                  "citizen_id", "amount", "entry_id"]


def _post_postgresql(sess: Session, batch: GrantBatch, eligible: Select) -> tuple[int, int]:
    """The whole batch in one statement (data-modifying CTEs): grants, the balances of
    existing accounts, new accounts opened at their grant, and the journal lines."""
    # The planner's row estimates for chained CTEs are wild; JIT-compiling for them cost
    # more than the batch itself (bench/bench_allocation.py), and sorts should not spill.
    sess.execute(text("SET LOCAL jit = off"))
    sess.execute(text("SET LOCAL work_mem = '64MB'"))
    # The statement is prepared after a few runs; a generic plan ignores the district
    # and the range, and chose scans per row that took a part from 0.4 s to 20-30 s.
    sess.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    rows, columns = _grant_rows(batch, eligible.subquery("e"))
    granted = (postgresql.insert(GRANTS).from_select(columns, rows).on_conflict_do_nothing()
               .returning(GRANTS.c.beneficiary_ref, GRANTS.c.amount).cte("granted"))
    credited = (ACCOUNTS.update().where(batch.owner(granted.c.beneficiary_ref))
                .values(balance=ACCOUNTS.c.balance + granted.c.amount,
                        expires_on=func.coalesce(literal(batch.expires_on, Date),
                                                 ACCOUNTS.c.expires_on))
                .returning(ACCOUNTS.c.id, ACCOUNTS.c.owner_ref, ACCOUNTS.c.balance)
                .cte("credited"))
    opened = (postgresql.insert(ACCOUNTS).from_select(
        ["programme", "purse", "owner_type", "owner_ref", "balance", "allow_negative",
         "expires_on"],
        select(literal(batch.programme), literal(batch.purse), literal(batch.holder),
               granted.c.beneficiary_ref, granted.c.amount, literal(False),
               literal(batch.expires_on, Date))
        .where(~exists().where(credited.c.owner_ref == granted.c.beneficiary_ref)))
        .returning(ACCOUNTS.c.id, ACCOUNTS.c.owner_ref, ACCOUNTS.c.balance).cte("opened"))
    moved = union_all(select(credited.c.id, credited.c.owner_ref, credited.c.balance),
                      select(opened.c.id, opened.c.owner_ref, opened.c.balance)).cte("moved")
    lines = (postgresql.insert(LINES).from_select(
        ["entry_id", "line_no", "account_id", "amount", "balance_after"],
        select(literal(batch.entry_id), 1 + func.row_number().over(order_by=moved.c.id),
               moved.c.id, granted.c.amount, moved.c.balance)
        .select_from(moved.join(granted, granted.c.beneficiary_ref == moved.c.owner_ref)))
        .returning(LINES.c.amount).cte("lines"))
    count, total = sess.execute(select(func.count(), func.coalesce(func.sum(lines.c.amount), 0))
                                ).one()
    return int(count), int(total)


_CREDIT = text("UPDATE ledger_accounts SET balance = ledger_accounts.balance + g.amount, "
               "expires_on = coalesce(:expires, ledger_accounts.expires_on) "
               "FROM ledger_grants g WHERE g.entry_id = :entry "
               "AND ledger_accounts.programme = g.programme AND ledger_accounts.purse = g.purse "
               "AND ledger_accounts.owner_type = g.beneficiary_type "
               "AND ledger_accounts.owner_ref = g.beneficiary_ref")
_LINES = text("INSERT INTO journal_lines (entry_id, line_no, account_id, amount, balance_after) "
              "SELECT :entry, 1 + row_number() OVER (ORDER BY a.id), a.id, g.amount, "
              "a.balance FROM ledger_grants g JOIN ledger_accounts a ON "
              "a.programme = g.programme AND a.purse = g.purse "
              "AND a.owner_type = g.beneficiary_type AND a.owner_ref = g.beneficiary_ref "
              "WHERE g.entry_id = :entry")
_TOTAL = text("SELECT count(*), coalesce(sum(amount), 0) FROM ledger_grants "
              "WHERE entry_id = :entry")


def _post_stepwise(sess: Session, batch: GrantBatch, eligible: Select) -> tuple[int, int]:
    """Other databases: open missing accounts, insert grants, credit, write the lines."""
    e = eligible.subquery("e")
    insert = dialect_insert(sess)
    missing = select(literal(batch.programme), literal(batch.purse), literal(batch.holder),
                     cast(e.c.beneficiary_id, String(64)), literal(0), literal(False)
                     ).select_from(e).where(true())
    sess.execute(insert(ACCOUNTS).from_select(
        ["programme", "purse", "owner_type", "owner_ref", "balance", "allow_negative"],
        missing).on_conflict_do_nothing())
    rows, columns = _grant_rows(batch, e)
    sess.execute(insert(GRANTS).from_select(columns, rows).on_conflict_do_nothing())
    count, total = sess.execute(_TOTAL, {"entry": batch.entry_id}).one()
    if count:
        sess.execute(_CREDIT, {"entry": batch.entry_id, "expires": batch.expires_on})
        sess.execute(_LINES, {"entry": batch.entry_id})
    return int(count), int(total)


def _close_entry(sess: Session, batch: GrantBatch, count: int, total: int) -> None:
    """The funding account's line, then the entry row that closes the batch's entry."""
    funding = postings.open_account(sess, batch.programme, batch.purse, postings.FUNDING)
    after = sess.execute(ACCOUNTS.update().where(ACCOUNTS.c.id == funding)
                         .values(balance=ACCOUNTS.c.balance - total)
                         .returning(ACCOUNTS.c.balance)).scalar_one()
    sess.execute(LINES.insert().values(entry_id=batch.entry_id, line_no=1, account_id=funding,
                                       amount=-total, balance_after=after))
    sess.execute(postings.ENTRIES.insert().values(
        id=batch.entry_id, kind="grant", programme=batch.programme, purse=batch.purse,
        period=batch.period, amount=total, actor="allocation", details={"grants": count},
        created_at=postings.entry_clock(sess)))

