"""Family hope conditions, per household member, for one quarter.

Components (each adds to the transfer): a child under 6 at the quarter's end, a
pregnancy during the quarter (recorded by the health module), a child of school age
(7 to 18 at the quarter's start). Conditions: children under 6 and pregnant women
visited the clinic during the quarter (health module visits); school-age children are
enrolled at school. One unmet condition withholds the transfer, and is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, not_, or_, select

from backend.services import Citizen, Eligibility, Household, Period, RegistryTables, years_before

HEALTH, VISIT, PREGNANCY = "health", "visit", "pregnancy"


@dataclass(frozen=True)
class Cutoffs:
    """Birth-date bounds of each component for one quarter."""

    period: Period
    under6_after: date  # born after this: under 6 at the quarter's end
    school_on_or_before: date  # 7 or older at the quarter's start
    school_after: date  # younger than 19 at the quarter's start

    @classmethod
    def of(cls, period: Period) -> Cutoffs:
        return cls(period, years_before(period.end, 6), years_before(period.start, 7),
                   years_before(period.start, 19))

    def small_child(self, person: Citizen) -> bool:
        return self.under6_after < person.birth_date <= self.period.end

    def school_age(self, person: Citizen) -> bool:
        return self.school_after < person.birth_date <= self.school_on_or_before


def decide(household: Household | None, visited: set[int], pregnant: set[int],
           enrolled: set[int], period: Period, params: Mapping[str, Any]) -> Eligibility:
    """The household's decision for `period`, naming every unmet condition."""
    if household is None:
        return Eligibility.no("no_household")
    if household.welfare_decile > params["decile_threshold"]:
        return Eligibility.no("decile_above_threshold", decile=household.welfare_decile,
                              threshold=params["decile_threshold"])
    cut = Cutoffs.of(period)
    counts = {"small_children": 0, "pregnancies": 0, "school_children": 0}
    unmet: list[dict[str, Any]] = []
    for member in household.members:
        person = member.citizen
        if person.died_on is not None:
            continue
        if cut.small_child(person):
            counts["small_children"] += 1
            if person.id not in visited:
                unmet.append({"condition": "child_clinic_visit_missing", "citizen_id": person.id})
        if person.id in pregnant:
            counts["pregnancies"] += 1
            if person.id not in visited:
                unmet.append({"condition": "antenatal_visit_missing", "citizen_id": person.id})
        if cut.school_age(person):
            counts["school_children"] += 1
            if person.id not in enrolled:
                unmet.append({"condition": "school_enrolment_missing", "citizen_id": person.id})
    if not any(counts.values()):
        return Eligibility.no("no_eligible_member", period=period.key)
    if unmet:
        return Eligibility.no(unmet[0]["condition"], period=period.key, unmet=unmet, **counts)
    return Eligibility.yes(period=period.key, amount=amount(counts, params), **counts)


def amount(counts: Mapping[str, int], params: Mapping[str, Any]) -> int:
    return (counts["small_children"] * params["child_amount"]
            + counts["pregnancies"] * params["pregnancy_amount"]
            + counts["school_children"] * params["school_amount"])


def beneficiaries(t: RegistryTables, period: Period, params: Mapping[str, Any],
                  low: int, high: int) -> Select:
    """Households in (low, high] that met every condition in `period`, with the amount."""
    c, m, h, f, e = t.citizens, t.members, t.households, t.facts, t.enrolments
    cut = Cutoffs.of(period)
    visited = exists().where(f.c.programme == HEALTH, f.c.kind == VISIT,
                             f.c.citizen_id == c.c.id,
                             f.c.occurred_on.between(period.start, period.end))
    pregnant = exists().where(f.c.programme == HEALTH, f.c.kind == PREGNANCY,
                              f.c.citizen_id == c.c.id, f.c.occurred_on <= period.end,
                              f.c.valid_until >= period.start)
    enrolled = exists().where(e.c.citizen_id == c.c.id, e.c.active)
    small = and_(c.c.birth_date > cut.under6_after, c.c.birth_date <= period.end)
    school = and_(c.c.birth_date > cut.school_after,
                  c.c.birth_date <= cut.school_on_or_before)
    n_small = func.sum(case((small, 1), else_=0))
    n_pregnant = func.sum(case((pregnant, 1), else_=0))
    n_school = func.sum(case((school, 1), else_=0))
    unmet = func.sum(case((and_(or_(small, pregnant), not_(visited)), 1),
                          (and_(school, not_(enrolled)), 1), else_=0))
    total = (n_small * params["child_amount"] + n_pregnant * params["pregnancy_amount"]
             + n_school * params["school_amount"])
    return (select(h.c.id.label("beneficiary_id"), h.c.head_citizen_id.label("citizen_id"),
                   total.label("amount"))
            .select_from(h.join(m, m.c.household_id == h.c.id)
                         .join(c, c.c.id == m.c.citizen_id))
            .where(h.c.id > low, h.c.id <= high, c.c.died_on.is_(None),
                   h.c.welfare_decile <= params["decile_threshold"])
            .group_by(h.c.id, h.c.head_citizen_id)
            .having(and_(n_small + n_pregnant + n_school > 0, unmet == 0)))
