"""A synthetic city into the database: its people, their cards, the month's balances.

What a city's programme gives, and so what this makes:
- people in households, through the importer (`importer.import_csv`), as an
  operator's file would come;
- a card for every living citizen: the one card serves children's school stipends
  as well as adults' services (Indonesia's KIA and KTP-el cover every age), and a
  registry at national size is a card table at national size
  (`backend.cards.synthetic` says why each card has real certificates);
- balances: the monthly allocations of every enabled programme for the month due on
  the city's day, through the ledger's own `allocation.allocate`, so the balances
  are exactly what the hub would grant.

Each phase is atomic on its own (the import and the cards are one transaction each;
an allocation commits batch by batch and, if interrupted, `satukartu ledger
allocate` resumes it). What could refuse the run is checked before the first write:
an empty registry, and a usable issuing CA when cards are asked for.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import Flask

from backend.registry import synth
from backend.registry.history import Actor
from backend.registry.importer import ImportReport, import_csv

if TYPE_CHECKING:
    from backend.cards.synthetic import CardMaker
    from backend.services import Allocation, Period, ServiceModule

# A progress bar: (label, total, unit) -> a context giving `update(n)`.
Bars = Callable[[str, int, str], AbstractContextManager[Callable[[int], None]]]


class SynthRefused(Exception):
    """The run cannot go ahead; nothing was written."""


@dataclass(frozen=True)
class Plan:
    citizens: int
    seed: int = 1
    today: dt.date | None = None
    cards: bool | None = None  # None: when the issuing CA is there
    balances: bool = True
    jobs: int | None = None  # processes making certificates; default: every core


@dataclass
class Made:
    """What the run made, and how long each phase took (seconds)."""

    registry: ImportReport | None = None
    cards: int = 0
    card_jobs: int = 0
    balances: list[tuple[str, int, int]] = field(default_factory=list)  # (what, grants, sum)
    phases: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@contextmanager
def no_bars(label: str, total: int, unit: str) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


def run(app: Flask, plan: Plan, actor: Actor, bars: Bars = no_bars) -> Made:
    """Make the city in `app`'s database, phase by phase (see the module's docstring).

    Raises SynthRefused before writing anything, or the importer's ImportFailed.
    """
    made = Made()
    maker = _preflight(app, plan, made)
    engine = app.extensions["satukartu.db"].engine
    day = plan.today or dt.date.today()
    with tempfile.TemporaryDirectory(dir=app.instance_path) as tmp:
        path = Path(tmp) / f"synthetic-{plan.seed}-{plan.citizens}.csv"
        with _phase(made, "generate"), bars("generating", plan.citizens, "people") as bar:
            synth.write_file(path, plan.citizens, plan.seed, plan.today, progress=bar)
        with _phase(made, "import"), \
                bars(f"importing {path.name}", path.stat().st_size, "bytes") as bar:
            made.registry = import_csv(engine, path, formats=app.config["NATIONAL_ID_FORMATS"],
                                       screen=False,
                                       actor=actor, progress=bar)
    if maker is not None:
        from backend.cards.synthetic_load import due, issue_cards

        with engine.connect() as conn:
            total = due(conn)
        with _phase(made, "cards"), bars("cards", total, "cards") as bar:
            report = issue_cards(engine, maker, validity_days=app.config["CARD_VALIDITY_DAYS"],
                                 jobs=plan.jobs, progress=bar)
        made.cards, made.card_jobs = report.cards, report.jobs
    if plan.balances:
        with _phase(made, "balances"):
            made.balances = _allocate_month(app, day, bars)
    with _phase(made, "statistics"):
        _analyze(engine)
    return made


def _analyze(engine: sa.Engine) -> None:
    """The planner's statistics of every table, now rather than when autovacuum comes by.

    A city just made is used at once (the benchmarks draw cards from it); before its
    tables are analysed the planner guesses, and at a million people it took an account
    lookup by its unique key through the index of its first three columns (38 ms, not
    0.05) and ran a receipt's line lookup on parallel workers (7 ms, not 0.1).
    ANALYZE samples a fixed number of rows a table, so this takes seconds at any size.
    """
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))


@contextmanager
def _phase(made: Made, name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    made.phases[name] = time.perf_counter() - started


def _preflight(app: Flask, plan: Plan, made: Made) -> CardMaker | None:
    """Refuse now rather than half-way; the card maker when cards are to be made."""
    engine = app.extensions["satukartu.db"].engine
    with engine.connect() as conn:
        present = conn.execute(sa.text("SELECT count(*) FROM citizens")).scalar_one()
    if present:
        raise SynthRefused(
            f"the registry already holds {present} citizens: `registry synth` makes a whole "
            "city in an empty registry (use a fresh database, or `--out FILE` and "
            "`registry import FILE`); nothing was written")
    if plan.cards is False:
        return None
    from backend.cards.ca import CaError, load_issuing_ca
    from backend.cards.synthetic import CardMaker, card_secret

    try:
        return CardMaker(load_issuing_ca(dict(app.config)), card_secret(app.config["CA_DIR"]))
    except CaError as exc:
        if plan.cards:
            raise SynthRefused(f"cards need the issuing CA: {exc}; nothing was written"
                               ) from exc
        made.notes.append(f"no cards: {exc} (or pass --no-cards)")
        return None


def _allocate_month(app: Flask, day: dt.date, bars: Bars) -> list[tuple[str, int, int]]:
    """Every enabled programme's monthly allocations for the month due on `day`."""
    from backend.services.catalogue import modules

    done = []
    for module in modules().values():
        for allocation in module.allocations:
            if allocation.cadence == "monthly":
                done.append(_allocate(app, module, allocation, allocation.due_period(day),
                                      bars))
    return done


def _allocate(app: Flask, module: ServiceModule, allocation: Allocation, period: Period,
              bars: Bars) -> tuple[str, int, int]:
    """One allocation through the ledger's entry point, its id range as the bar."""
    from backend.db import database
    from backend.ledger.allocation import allocate
    from backend.registry.models import Citizen, Household

    holder = module.purses[allocation.purse].holder
    table = Household if holder == "household" else Citizen
    with database().transaction() as sess:
        top = int(sess.execute(sa.select(sa.func.coalesce(sa.func.max(table.id), 0)))
                  .scalar_one())
    label = f"{module.key}/{allocation.purse} {period.key}"
    with bars(label, top, table.__tablename__) as bar:
        walked = _Walked(bar, top)
        outcome = allocate(database(), module, allocation, period,
                           batch=app.config["ALLOCATION_BATCH"], after_batch=walked.to)
        walked.to(0, top)
    return label, outcome.granted, outcome.amount


class _Walked:
    """The bar follows the highest id an allocation's batches have reached."""

    def __init__(self, bar: Callable[[int], None], top: int) -> None:
        self.bar, self.top, self.at = bar, top, 0

    def to(self, _grants: int, high: int) -> None:
        high = min(high, self.top)
        if high > self.at:
            self.bar(high - self.at)
            self.at = high
