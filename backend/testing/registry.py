"""Registry fixtures: a `citizen` and a `household` factory on the test's database.

Both write through the `app` fixture's session (so on SQLite and PostgreSQL alike,
and rolled back after the test) and commit, so API calls in the same test see them.

    def test_something(citizen, household):
        siti = citizen(full_name="Siti Aminah", sex="F")
        family = household(head=siti, members=[(citizen(), "child")], welfare_decile=2)
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask

from backend.db import session
from backend.registry.models import Citizen, Household, HouseholdMember
from backend.registry.names import fold_name
from backend.registry.national_ids import make_nik

DEFAULT_REGION = "3171010001"  # Jakarta Selatan, Kebayoran Baru, a village
_sequence = itertools.count(1)


def _next_sequence() -> int:
    return next(_sequence) % 9999 + 1


def _unique_nik(region: str, birth_date: dt.date, sex: str) -> str:
    """A valid NIK not yet in the database (other tests' rows may share the worker DB)."""
    sess = session()
    while True:
        number = make_nik(region, birth_date, sex, _next_sequence())
        if sess.query(Citizen.id).filter_by(national_number=number).first() is None:
            return number


def make_citizen(**fields: Any) -> Citizen:
    """Insert a citizen; any column may be given, the rest get valid defaults."""
    sex = fields.setdefault("sex", "F")
    birth_date = fields.setdefault("birth_date", dt.date(1990, 5, 17))
    region = fields.setdefault("region_code", DEFAULT_REGION)
    fields.setdefault("full_name", "Siti Rahayu" if sex == "F" else "Budi Santoso")
    fields.setdefault("address", "Jl. Melati No. 7, RT 003/RW 005")
    fields.setdefault("language", "id")
    if "national_number" not in fields:
        fields["national_number"] = _unique_nik(region, birth_date, sex)
    fields["name_search"] = fold_name(fields["full_name"])
    person = Citizen(**fields)
    sess = session()
    sess.add(person)
    sess.commit()
    return person


def make_household(head: Citizen | None = None,
                   members: Iterable[Citizen | tuple[Citizen, str]] = (),
                   **fields: Any) -> Household:
    """Insert a household with `head` (made if missing) and members ((citizen, relation))."""
    sess = session()
    head = head or make_citizen(sex="M", full_name="Budi Santoso")
    fields.setdefault("region_code", head.region_code)
    fields.setdefault("welfare_decile", 3)
    if "family_card_number" not in fields:
        fields["family_card_number"] = _unique_family_card(head.region_code)
    family = Household(head_citizen_id=head.id, **fields)
    sess.add(family)
    sess.flush()
    sess.add(HouseholdMember(household_id=family.id, citizen_id=head.id, relationship="head"))
    for entry in members:
        person, relationship = entry if isinstance(entry, tuple) else (entry, "child")
        sess.add(HouseholdMember(household_id=family.id, citizen_id=person.id,
                                 relationship=relationship))
    sess.commit()
    return family


def _unique_family_card(region: str) -> str:
    sess = session()
    while True:
        number = f"{region[:6]}{dt.date.today():%d%m%y}{_next_sequence():04d}"
        if sess.query(Household.id).filter_by(family_card_number=number).first() is None:
            return number


@pytest.fixture
def citizen(app: Flask) -> Callable[..., Citizen]:
    """Factory: `citizen(full_name=..., sex=..., birth_date=..., ...)` -> a committed Citizen."""
    return make_citizen


@pytest.fixture
def household(app: Flask) -> Callable[..., Household]:
    """Factory: `household(head=None, members=[(citizen, "spouse")], welfare_decile=3)`."""
    return make_household
