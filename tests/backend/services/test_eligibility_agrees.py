"""Every programme's allocation SQL selects exactly whom its Python eligibility accepts.

Over a registry made by the hub's synthetic generator (`backend.testing.eligibility`),
on SQLite and PostgreSQL, for every installed module that allocates; then on the
cut-off days a generated registry rarely hits.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from backend.db import session
from backend.services import Period
from backend.services.catalogue import discover, modules
from backend.services.context import HubContext
from backend.testing.eligibility import (
    assert_allocation_matches_eligibility,
    born_around,
    load_synthetic_registry,
)

ALLOCATING = sorted(key for key, point in discover().items() if point.load().allocations)
DAY = dt.date(2026, 7, 15)


def test_every_allocating_programme_is_checked():
    assert {"education", "elderly", "family_hope", "food", "transport"} <= set(ALLOCATING)


@pytest.mark.parametrize("key", ALLOCATING)
def test_a_generated_registry(app, key):
    made = load_synthetic_registry(session(), citizens=1500, seed=20260715, today=DAY)
    assert made.deceased and made.without_household and made.facts
    for comparison in assert_allocation_matches_eligibility(app, key, today=DAY,
                                                            min_selected=5):
        assert comparison.examined >= 100


def test_the_fixture_a_module_author_uses(app, synthetic_registry):
    assert len(synthetic_registry.citizen_ids) == 1000
    assert_allocation_matches_eligibility(app, "food", today=synthetic_registry.today)


@pytest.mark.parametrize("key", ALLOCATING)
def test_ages_on_the_cut_off_days(app, citizen, household, enrol, key):
    """Born the day before, on and after each birthday a rule counts, in a poor home."""
    module = modules()[key]
    for allocation in module.allocations:
        period = allocation.due_period(DAY)
        for day, years in itertools.product((period.start, period.end),
                                            (0, 5, 6, 7, 17, 18, 19, 21, 22, 59, 60, 61)):
            kids = [citizen(birth_date=born) for born in born_around(day, years)]
            for kid, level in zip(kids, ("primary", "junior", "senior"), strict=True):
                enrol(kid, level, 3)
            household(members=[(k, "child") for k in kids], welfare_decile=1)
        assert_allocation_matches_eligibility(app, module, period=period, min_selected=1)


def test_family_hope_on_every_combination_of_components_and_conditions(app, citizen,
                                                                        household, enrol):
    """Each component (child under 6, pregnancy, school-age child) with its condition
    met or not, in a poor and a richer household: both sides agree on every one."""
    period = Period.containing(dt.date.today(), "quarterly")
    health = modules()["health"]
    toddler = dt.date.today() - dt.timedelta(days=2 * 365)
    pupil_born = born_around(period.start, 10)[1]
    for decile, small, pupil, enrolled, pregnant, visited in itertools.product(
            (1, 5), (False, True), (False, True), (False, True), (False, True),
            (False, True)):
        head = citizen(sex="F")
        kids = []
        if small:
            kids.append(citizen(birth_date=toddler))
        if pupil:
            kids.append(citizen(birth_date=pupil_born))
            if enrolled:
                enrol(kids[-1], "primary", 3)
        household(head=head, members=[(k, "child") for k in kids], welfare_decile=decile)
        facts = HubContext(session(), health, None, head.id)
        if pregnant:
            facts.record_fact("pregnancy", head.id, period.start, {},
                              valid_until=period.end + dt.timedelta(days=60))
        if visited:
            for person in ([kids[0]] if small else []) + ([head] if pregnant else []):
                facts.record_fact("visit", person.id, period.start, {"visit_kind": "x"})
        session().commit()
    [found] = assert_allocation_matches_eligibility(app, "family_hope", period=period,
                                                    min_selected=3)
    assert set(found.selected.values()) >= {300_000, 750_000, 750_000 + 300_000}
