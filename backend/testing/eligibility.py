"""One rule written twice: a programme's Python `eligibility` and its allocation's SQL.

A module states who benefits twice: `eligibility(ctx, citizen)`, what a kiosk, a
counter or the admin console tells one citizen, and each `Allocation`'s select, what
the hub pays the whole registry. This checks, over a registry, that the select picks
exactly the beneficiaries the Python rule accepts, with the same amount:

    from backend.testing.eligibility import (
        assert_allocation_matches_eligibility, load_synthetic_registry)

    def test_my_rule_is_one_rule(app):
        load_synthetic_registry(session(), citizens=1000, seed=3)
        assert_allocation_matches_eligibility(app, "library")

or, with `"backend.testing.eligibility"` in `pytest_plugins`, the `synthetic_registry`
fixture (a generated city in the test's database, rolled back after the test).

How the two sides are compared, for each of the module's allocations and its period
(by default the one due on the registry's day):

* SQL: the allocation's select, walked over the id range in batches as the hub walks
  it, keeping rows with an amount above 0 (as the hub does). A row outside its batch's
  range, or a beneficiary listed twice, is a mismatch too.
* Python: `module.eligibility(ctx, citizen)` with `ctx.today` the period's first day
  (the day the select's ages are counted on). For a citizen purse, every citizen of the
  registry; for a household purse, every living member of each household (the head if
  none lives), who must all get the same answer, as the household's purse is one.
* Amounts: the decision's `amount` detail, else its `<cadence>_amount`
  (`monthly_amount`, `quarterly_amount`, `semester_amount`); pass `amount_of` when the
  module names it otherwise. When there is none, only who is selected is compared.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend.ledger.allocation import registry_tables
from backend.ledger.models import ServiceFact
from backend.registry import models as reg
from backend.registry.names import fold_name
from backend.registry.synth import Generator
from backend.services import (
    Allocation,
    Eligibility,
    Period,
    ServiceModule,
    years_before,
)
from backend.services.context import HubContext, citizen_view

__all__ = [
    "Comparison", "Mismatch", "SyntheticRegistry", "assert_allocation_matches_eligibility",
    "born_around", "compare_allocation", "decision_amount", "load_synthetic_registry",
    "synthetic_registry",
]

CITIZENS = reg.Citizen.__table__
HOUSEHOLDS = reg.Household.__table__
MEMBERS = reg.HouseholdMember.__table__
ENROLMENTS = reg.SchoolEnrolment.__table__
HEALTH = reg.HealthAssignment.__table__
FACTS = ServiceFact.__table__
DEFAULT_DAY = dt.date(2026, 7, 15)  # a fixed day, so a seed always makes the same city
DEFAULT_CITY = "9471"  # Kota Jayapura: no other test fixture registers people there
AmountOf = Callable[[Eligibility, Allocation], "int | None"]


# the registry -------------------------------------------------------------------------
@dataclass(frozen=True)
class SyntheticRegistry:
    """What `load_synthetic_registry` wrote: ids, and the day its ages are counted on."""

    today: dt.date
    citizen_ids: tuple[int, ...]
    household_ids: tuple[int, ...]
    deceased: int
    without_household: int
    facts: int


def load_synthetic_registry(sess: Session, citizens: int = 1000, seed: int = 1,
                            today: dt.date = DEFAULT_DAY, city_code: str = DEFAULT_CITY
                            ) -> SyntheticRegistry:
    """Write a city of about `citizens` people into `sess` (flushed, not committed).

    The people, households, enrolments and health memberships come from the hub's
    synthetic generator (`backend.registry.synth`, as `satukartu registry synth` makes
    them). On top, with the same seed, what a live registry also holds and the generator
    does not: deaths (some recorded as `record_death` does, closing enrolments and
    membership, some imported with their enrolment still active), enrolments no longer
    active and second enrolments, households without a welfare decile, people on no
    family card, and the health module's clinic visits and pregnancies around `today`.
    """
    rng = random.Random(f"eligibility-{seed}")
    rows = list(Generator(seed, today, city_code).rows(citizens))
    by_card: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_card.setdefault(row["family_card_number"], []).append(row)
    loose_cards = {card for card in by_card if rng.random() < 0.03}
    died: dict[str, tuple[dt.date, bool]] = {}  # national number -> (died on, closed)
    for row in rows:
        if rng.random() < 0.04:
            born = dt.date.fromisoformat(row["birth_date"])
            day = max(born, today - dt.timedelta(days=rng.randint(0, 900)))
            died[row["national_number"]] = (day, rng.random() < 0.5)
    sess.execute(insert(CITIZENS), [{
        "national_number": row["national_number"], "full_name": row["full_name"],
        "name_search": fold_name(row["full_name"]),
        "birth_date": dt.date.fromisoformat(row["birth_date"]), "sex": row["sex"],
        "address": row["address"], "region_code": row["region_code"],
        "language": row["language"], "photo_ref": None,
        "died_on": died.get(row["national_number"], (None, False))[0]} for row in rows])
    ids = dict(sess.execute(select(CITIZENS.c.national_number, CITIZENS.c.id).where(
        CITIZENS.c.national_number.in_([row["national_number"] for row in rows]))).all())
    households = []
    for card, people in by_card.items():
        if card in loose_cards:
            continue
        head = next(p for p in people if p["relationship"] == "head")
        decile = None if rng.random() < 0.03 else int(head["welfare_decile"])
        households.append({"family_card_number": card, "region_code": head["region_code"],
                           "head_citizen_id": ids[head["national_number"]],
                           "welfare_decile": decile})
    if households:
        sess.execute(insert(HOUSEHOLDS), households)
    home = dict(sess.execute(select(HOUSEHOLDS.c.family_card_number, HOUSEHOLDS.c.id).where(
        HOUSEHOLDS.c.family_card_number.in_([h["family_card_number"] for h in households]))
    ).all())
    members = [{"citizen_id": ids[row["national_number"]],
                "household_id": home[row["family_card_number"]],
                "relationship": row["relationship"]}
               for row in rows if row["family_card_number"] in home]
    if members:
        sess.execute(insert(MEMBERS), members)
    enrolments, health = [], []
    for row in rows:
        person = ids[row["national_number"]]
        closed = died.get(row["national_number"], (None, False))[1]
        if row.get("school_code"):
            active = not closed and rng.random() >= 0.08
            enrolments.append(_enrolment(person, row, row["school_level"], active))
            if rng.random() < 0.05:  # a second school, of another level, on the record
                level = rng.choice([lv for lv in reg.SCHOOL_LEVELS if lv != row["school_level"]])
                enrolments.append(_enrolment(person, row, level, rng.random() < 0.5))
        if row.get("health_facility_code"):
            health.append({"citizen_id": person, "facility_code": row["health_facility_code"],
                           "facility_name": row["health_facility_name"],
                           "jkn_class": int(row["jkn_class"]),
                           "premium_assisted": row["premium_assisted"] == "true",
                           "active": not closed and rng.random() >= 0.05})
    if enrolments:
        sess.execute(insert(ENROLMENTS), enrolments)
    if health:
        sess.execute(insert(HEALTH), health)
    facts = list(_clinic_facts(rng, rows, ids, by_card, today))
    if facts:
        sess.execute(insert(FACTS), facts)
    sess.flush()
    return SyntheticRegistry(today, tuple(sorted(ids.values())), tuple(sorted(home.values())),
                             len(died), sum(len(by_card[c]) for c in loose_cards), len(facts))


def _enrolment(person: int, row: Mapping[str, str], level: str, active: bool
               ) -> dict[str, Any]:
    return {"citizen_id": person, "school_code": row["school_code"],
            "school_name": row["school_name"], "level": level,
            "grade": int(row["school_grade"]), "academic_year": row["academic_year"],
            "active": active}


def _clinic_facts(rng: random.Random, rows: list[dict[str, str]], ids: Mapping[str, int],
                  by_card: Mapping[str, list[dict[str, str]]], today: dt.date
                  ) -> Iterator[dict[str, Any]]:
    """The health module's facts: visits (most households diligent, some not at all)
    and pregnancies, on days spread over the last year and a few weeks ahead."""
    def day(back: int = 365, ahead: int = 30) -> dt.date:
        return today + dt.timedelta(days=rng.randint(-back, ahead))

    def fact(kind: str, row: Mapping[str, str], on: dt.date,
             until: dt.date | None = None) -> dict[str, Any]:
        return {"programme": "health", "kind": kind, "citizen_id": ids[row["national_number"]],
                "occurred_on": on, "valid_until": until,
                "data": {"visit_kind": "synthetic", "facility_code": "SYNTH"}}

    for people in by_card.values():
        diligent = rng.random()
        for row in people:
            born = dt.date.fromisoformat(row["birth_date"])
            age = (today - born).days // 365
            if row["sex"] == "F" and 18 <= age <= 45 and rng.random() < 0.15:
                start = day(back=300, ahead=0)
                yield fact("pregnancy", row, start, start + dt.timedelta(days=rng.randint(
                    150, 280)))
                if diligent < 0.7:
                    yield fact("visit", row, day(back=150, ahead=0))
            visits = (rng.randint(1, 3) if diligent < 0.6 else
                      0 if diligent > 0.85 or age > 6 else rng.randint(0, 1))
            for _ in range(visits):
                yield fact("visit", row, day(back=150 if age <= 6 else 365, ahead=10))


# the comparison -----------------------------------------------------------------------
@dataclass(frozen=True)
class Mismatch:
    """One beneficiary the two sides disagree on."""

    beneficiary_id: int
    problem: str  # sql_only | python_only | amount | members_disagree | out_of_batch | twice
    sql_amount: int | None = None
    python_amount: int | None = None
    decision: Eligibility | None = None
    citizen_id: int | None = None  # the citizen whose Python decision is shown
    who: str = ""  # that citizen as the registry has them

    def __str__(self) -> str:
        decided = ("none" if self.decision is None else
                   "eligible" if self.decision.eligible else f"not eligible "
                   f"({self.decision.reason})")
        details = dict(self.decision.details) if self.decision is not None else {}
        return (f"{self.problem}: beneficiary {self.beneficiary_id} (citizen "
                f"{self.citizen_id}): SQL amount {self.sql_amount}, Python {decided}, "
                f"amount {self.python_amount} {details}; {self.who}")


@dataclass
class Comparison:
    module: str
    purse: str
    holder: str
    period: str
    day: dt.date
    selected: dict[int, int] = field(default_factory=dict)  # SQL: beneficiary -> amount
    eligible: dict[int, int | None] = field(default_factory=dict)  # Python: id -> amount
    examined: int = 0  # beneficiaries whose Python decision was asked
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return not self.mismatches

    def summary(self, limit: int = 15) -> str:
        head = (f"{self.module}/{self.purse} {self.period} (day {self.day}): SQL selects "
                f"{len(self.selected)}, Python accepts {len(self.eligible)} of "
                f"{self.examined} {self.holder}s; {len(self.mismatches)} mismatch(es)")
        shown = [f"  {m}" for m in self.mismatches[:limit]]
        more = len(self.mismatches) - limit
        return "\n".join([head, *shown, *([f"  ... and {more} more"] if more > 0 else [])])


_CADENCE_AMOUNT = {"monthly": "monthly_amount", "quarterly": "quarterly_amount",
                   "semester": "semester_amount"}


def decision_amount(decision: Eligibility, allocation: Allocation) -> int | None:
    """The amount a positive decision names: `amount`, else `<cadence>_amount`."""
    for name in ("amount", _CADENCE_AMOUNT[allocation.cadence]):
        if name in decision.details:
            return int(decision.details[name])
    return None


def compare_allocation(sess: Session, module: ServiceModule, allocation: Allocation,
                       period: Period, *, day: dt.date | None = None, batch: int = 97,
                       amount_of: AmountOf = decision_amount) -> Comparison:
    """Both sides of one allocation for `period`, over the whole registry in `sess`."""
    day = day or period.start
    holder = module.purses[allocation.purse].holder
    found = Comparison(module.key, allocation.purse, holder, period.key, day)
    _sql_side(sess, module, allocation, period, batch, found)
    if holder == "household":
        _python_households(sess, module, allocation, day, amount_of, found)
    else:
        _python_citizens(sess, module, allocation, day, amount_of, found)
    for beneficiary in sorted(set(found.selected) | set(found.eligible)):
        sql, python = found.selected.get(beneficiary), found.eligible.get(beneficiary, -1)
        if sql is None:
            found.mismatches.append(Mismatch(beneficiary, "python_only", None, python))
        elif python == -1:
            found.mismatches.append(Mismatch(beneficiary, "sql_only", sql, None))
        elif python is not None and python != sql:
            found.mismatches.append(Mismatch(beneficiary, "amount", sql, python))
    found.mismatches = [_explained(sess, module, day, holder, m) for m in found.mismatches]
    return found


def _sql_side(sess: Session, module: ServiceModule, allocation: Allocation, period: Period,
              batch: int, found: Comparison) -> None:
    """The select as the hub walks it: (low, high] ranges up to the largest id."""
    tables = registry_tables()
    driver = tables.households if found.holder == "household" else tables.citizens
    top = sess.execute(select(func.max(driver.c.id))).scalar() or 0
    low = 0
    while low < top:
        high = min(low + batch, top)
        query = allocation.beneficiaries(tables, period, module.config, low, high)
        for row in sess.execute(query):
            beneficiary, amount = int(row.beneficiary_id), int(row.amount)
            if not low < beneficiary <= high:
                found.mismatches.append(Mismatch(beneficiary, "out_of_batch", amount))
            elif beneficiary in found.selected:
                found.mismatches.append(Mismatch(beneficiary, "twice", amount))
            elif amount > 0:
                found.selected[beneficiary] = amount
        low = high


def _decide(sess: Session, module: ServiceModule, day: dt.date, citizen_id: int
            ) -> Eligibility:
    ctx = HubContext(sess, module, None, citizen_id, today=day)
    return module.eligibility(ctx, ctx.citizen)


def _python_citizens(sess: Session, module: ServiceModule, allocation: Allocation,
                     day: dt.date, amount_of: AmountOf, found: Comparison) -> None:
    for row in sess.execute(select(CITIZENS).order_by(CITIZENS.c.id)):
        found.examined += 1
        ctx = HubContext(sess, module, None, row.id, today=day)
        ctx._citizen = citizen_view(row)
        decision = module.eligibility(ctx, ctx.citizen)
        if decision.eligible:
            found.eligible[row.id] = amount_of(decision, allocation)


def _python_households(sess: Session, module: ServiceModule, allocation: Allocation,
                       day: dt.date, amount_of: AmountOf, found: Comparison) -> None:
    people: dict[int, list[tuple[int, bool]]] = {}
    for household, citizen, dead in sess.execute(
            select(MEMBERS.c.household_id, MEMBERS.c.citizen_id,
                   CITIZENS.c.died_on.is_not(None))
            .join(CITIZENS, CITIZENS.c.id == MEMBERS.c.citizen_id)
            .order_by(MEMBERS.c.household_id, MEMBERS.c.citizen_id)):
        people.setdefault(household, []).append((citizen, bool(dead)))
    heads = dict(sess.execute(select(HOUSEHOLDS.c.id, HOUSEHOLDS.c.head_citizen_id)).all())
    for household, head in sorted(heads.items()):
        listed = people.get(household, [])
        asked = [c for c, dead in listed if not dead] or [head]
        found.examined += 1
        answers = {}
        for citizen in asked:
            decision = _decide(sess, module, day, citizen)
            answers[citizen] = (decision.eligible, amount_of(decision, allocation)
                                if decision.eligible else None, decision)
        verdicts = {(eligible, amount) for eligible, amount, _ in answers.values()}
        if len(verdicts) > 1:
            split = {c: (a[0], a[1], a[2].reason) for c, a in answers.items()}
            found.mismatches.append(Mismatch(household, f"members_disagree {split}"))
        eligible, amount, _ = answers[asked[0]]
        if eligible:
            found.eligible[household] = amount


def _explained(sess: Session, module: ServiceModule, day: dt.date, holder: str,
               mismatch: Mismatch) -> Mismatch:
    """The mismatch with the Python decision of its citizen (a household's head)."""
    citizen: int | None = mismatch.beneficiary_id
    if holder == "household":
        citizen = sess.execute(select(HOUSEHOLDS.c.head_citizen_id).where(
            HOUSEHOLDS.c.id == mismatch.beneficiary_id)).scalar()
    if citizen is None:
        return mismatch
    person = sess.execute(select(CITIZENS.c.birth_date, CITIZENS.c.died_on,
                                 HOUSEHOLDS.c.id, HOUSEHOLDS.c.welfare_decile)
                          .outerjoin(MEMBERS, MEMBERS.c.citizen_id == CITIZENS.c.id)
                          .outerjoin(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id)
                          .where(CITIZENS.c.id == citizen)).one()
    who = (f"born {person.birth_date}, died {person.died_on}, household {person.id} "
           f"(decile {person.welfare_decile})")
    return Mismatch(mismatch.beneficiary_id, mismatch.problem, mismatch.sql_amount,
                    mismatch.python_amount, _decide(sess, module, day, citizen), citizen, who)


def assert_allocation_matches_eligibility(
        app_or_session: Flask | Session, module: str | ServiceModule, *,
        period: Period | str | None = None, today: dt.date | None = None,
        day: dt.date | None = None, batch: int = 97, min_selected: int = 1,
        amount_of: AmountOf = decision_amount) -> list[Comparison]:
    """Fail, naming each disagreement, unless every allocation of `module` selects
    exactly the beneficiaries its `eligibility` accepts, with the same amounts.

    `module`: a key of an enabled module (as the hub configured it) or a module.
    `period`: the period to compare (default: each allocation's period due on `today`,
    default today's date). `day`: the Python side's `ctx.today` (default: the period's
    first day). `min_selected`: fewer beneficiaries than this on both sides fails too,
    as agreeing on nobody proves nothing about a registry. Returns the comparisons.
    """
    sess = _session_of(app_or_session)
    if isinstance(module, str):
        from backend.services.catalogue import modules

        module = modules()[module]
    if not module.allocations:
        raise AssertionError(f"{module.key} has no allocation to compare")
    done = []
    for allocation in module.allocations:
        due = (Period.parse(period) if isinstance(period, str) else period or
               allocation.due_period(today or dt.date.today()))
        done.append(compare_allocation(sess, module, allocation, due, day=day, batch=batch,
                                       amount_of=amount_of))
    problems = [c.summary() for c in done if not c.agree]
    problems += [f"{c.module}/{c.purse} {c.period}: only {len(c.selected)} selected, "
                 f"{len(c.eligible)} eligible (min_selected={min_selected})"
                 for c in done if c.agree and len(c.selected) < min_selected]
    if problems:
        raise AssertionError("the allocation's SQL and the Python eligibility disagree:\n"
                             + "\n".join(problems))
    return done


def _session_of(app_or_session: Flask | Session) -> Session:
    if isinstance(app_or_session, Session):
        return app_or_session
    from flask import current_app, has_app_context

    from backend.db import session

    # `current_app` is a proxy; Flask types it as the app itself, without the proxy's API.
    if not has_app_context() or (
            current_app._get_current_object()  # type: ignore[attr-defined]
            is not app_or_session):
        raise RuntimeError("call it inside the app's context (the `app` fixture is)")
    return session()


@pytest.fixture
def synthetic_registry(app: Flask) -> SyntheticRegistry:
    """A generated city of 1000 people (seed 1, ages on 15 July 2026) in the test's
    database, rolled back after the test. Compare on its day:

        assert_allocation_matches_eligibility(app, "food", today=synthetic_registry.today)
    """
    from backend.db import session

    made = load_synthetic_registry(session(), citizens=1000, seed=1)
    session().commit()
    return made


# Ages a registry rarely hits exactly: born on a cut-off day, or a day either side.
def born_around(day: dt.date, years: int) -> tuple[dt.date, dt.date, dt.date]:
    """Birth dates one day before, on and one day after turning `years` on `day`."""
    on = years_before(day, years)
    return on - dt.timedelta(days=1), on, on + dt.timedelta(days=1)

