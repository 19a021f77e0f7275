"""A period's allocation split by district, so that several workers can share it.

`plan` prepares the period once (purse rules, a progress row per district, last
period's credit lapsed) and names the parts; each part is then walked by
`allocation.allocate_part`, by whichever worker holds it, as often as it is
delivered: its progress row is locked batch by batch, so a part re-run writes
nothing and two workers on one part take turns. The period is complete when every
part row has finished; `progress` is the one place that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db import Database
from backend.ledger.allocation import RUNS, Outcome, allocate_part, prepare, registry_tables
from backend.ledger.parts import WHOLE, Part, districts
from backend.services import Allocation, Period, ServiceModule


@dataclass(frozen=True)
class Progress:
    parts: int
    finished: int
    granted: int
    amount: int

    @property
    def complete(self) -> bool:
        return self.parts > 0 and self.finished == self.parts


def plan(db: Database, module: ServiceModule, allocation: Allocation, period: Period, *,
         rescan: bool = False, batch: int = 50_000) -> list[Part]:
    """Prepare `period` split by the districts of the purse's holders; its parts."""
    holder = module.purses[allocation.purse].holder
    tables = registry_tables()
    with db.transaction() as sess:
        parts = districts(sess, tables.households if holder == "household"
                          else tables.citizens)
    prepare(db, module, allocation, period, parts, rescan=rescan, batch=batch)
    return parts


def allocate_split(db: Database, module: ServiceModule, allocation: Allocation,
                   period: Period, *, batch: int = 50_000,
                   rescan: bool = False) -> list[Outcome]:
    """The split allocation with every part walked here, one after another (the CLI's
    way without workers; the result is the one the workers give)."""
    return [allocate_part(db, module, allocation, period, part, batch=batch)
            for part in plan(db, module, allocation, period, rescan=rescan, batch=batch)]


def progress(sess: Session, programme: str, purse: str, period: str, *,
             split: bool = True) -> Progress:
    """How far the period's district parts are (split=False: its unsplit run). The two
    are counted apart: either, once finished, has granted the whole registry."""
    whole = RUNS.c.part == WHOLE.key
    row = sess.execute(select(
        func.count(), func.count(RUNS.c.finished_at), func.coalesce(func.sum(RUNS.c.granted), 0),
        func.coalesce(func.sum(RUNS.c.amount), 0)).where(
        RUNS.c.programme == programme, RUNS.c.purse == purse, RUNS.c.period == period,
        ~whole if split else whole)).one()
    return Progress(*(int(value) for value in row))
