"""What the registry says of a citizen, as a module reads it: frozen values, never rows.

A module gets these from its `ServiceContext`, so it can read the registry but never
write it; `Eligibility` is what a module answers about one citizen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Citizen:
    id: int
    full_name: str
    birth_date: date
    sex: str
    region_code: str
    language: str
    died_on: date | None

    def age_on(self, day: date) -> int:
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday


@dataclass(frozen=True)
class Member:
    citizen: Citizen
    relationship: str  # head | spouse | child | parent | other


@dataclass(frozen=True)
class Household:
    id: int
    family_card_number: str
    region_code: str
    welfare_decile: int
    head_citizen_id: int | None
    members: tuple[Member, ...]


@dataclass(frozen=True)
class Enrolment:
    school_code: str
    school_name: str
    level: str  # primary | junior | senior
    grade: int
    academic_year: str
    active: bool


@dataclass(frozen=True)
class HealthCover:
    facility_code: str
    facility_name: str
    jkn_class: int
    premium_assisted: bool
    active: bool


@dataclass(frozen=True)
class Fact:
    """Something a module recorded that others may read (a clinic visit, ...); a fact
    that lasts (a pregnancy) holds from `occurred_on` to `valid_until`."""

    programme: str
    kind: str
    citizen_id: int
    occurred_on: date
    data: Mapping[str, Any]
    valid_until: date | None = None


@dataclass(frozen=True)
class Eligibility:
    """A decision with its reason: `reason` is a short machine-readable code when not
    eligible (e.g. `decile_above_threshold`, `child_clinic_visit_missing`)."""

    eligible: bool
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def yes(cls, **details: Any) -> Eligibility:
        return cls(True, None, details)

    @classmethod
    def no(cls, reason: str, **details: Any) -> Eligibility:
        return cls(False, reason, details)
