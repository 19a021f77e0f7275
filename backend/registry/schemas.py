"""The registry's request and response shapes (validated at the API boundary)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, Strict, StringConstraints

from backend.api.routing import OutModel, StrictModel

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_text(value: object) -> object:
    """JSON has no dates: accept only the ISO text, not a number read as a timestamp."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD text")
    return value


# Body fields refuse other JSON types instead of coercing them ("5" is not 5).
Date = Annotated[dt.date, BeforeValidator(_iso_date_text)]
Id = Annotated[int, Strict(), Field(ge=1, le=2**31 - 1)]
Flag = Annotated[bool, Strict()]
Sex = Literal["F", "M"]
Relationship = Literal["head", "spouse", "child", "parent", "other"]
MemberRelationship = Literal["spouse", "child", "parent", "other"]
Level = Literal["primary", "junior", "senior"]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2})?$")]
Purpose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
AcademicYear = Annotated[str, StringConstraints(pattern=r"^\d{4}/\d{4}$")]
Code = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Decile = Annotated[int, Strict(), Field(ge=1, le=10)]


class CitizenIn(StrictModel):
    national_number: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    full_name: Name
    birth_date: Date
    sex: Sex
    address: Annotated[str, StringConstraints(max_length=300)] = ""
    region_code: RegionCode
    language: Language = "id"
    photo_ref: Annotated[str, StringConstraints(max_length=200)] | None = None


class CitizenPatch(StrictModel):
    """Only the fields sent change; `null` is accepted only where a value may be absent."""

    national_number: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    full_name: Name | None = None
    birth_date: Date | None = None
    sex: Sex | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    region_code: RegionCode | None = None
    language: Language | None = None
    photo_ref: Annotated[str, StringConstraints(max_length=200)] | None = None


class DeathIn(StrictModel):
    died_on: Date
    certificate_ref: Annotated[str, StringConstraints(max_length=100)] | None = None


class ReadQuery(StrictModel):
    purpose: Purpose


class SearchQuery(StrictModel):
    purpose: Purpose
    number: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    # Three characters at least: the trigram index serves the search from there.
    name: Annotated[str, StringConstraints(min_length=3, max_length=200)] | None = None
    page: Annotated[int, Field(ge=1, le=1000)] = 1
    per_page: Annotated[int, Field(ge=1, le=100)] = 20


class MembershipOut(OutModel):
    household_id: int
    family_card_number: str
    relationship: str
    welfare_decile: int | None


class EnrolmentIn(StrictModel):
    school_code: Code
    school_name: Name
    level: Level
    grade: Annotated[int, Strict(), Field(ge=1, le=12)]
    academic_year: AcademicYear
    active: Flag = True


class EnrolmentPatch(StrictModel):
    grade: Annotated[int, Strict(), Field(ge=1, le=12)] | None = None
    academic_year: AcademicYear | None = None
    active: Flag | None = None


class EnrolmentOut(OutModel):
    id: int
    citizen_id: int
    school_code: str
    school_name: str
    level: str
    grade: int
    academic_year: str
    active: bool


class HealthIn(StrictModel):
    facility_code: Code
    facility_name: Name
    jkn_class: Annotated[int, Strict(), Field(ge=1, le=3)]
    premium_assisted: Flag = False
    active: Flag = True


class HealthOut(OutModel):
    citizen_id: int
    facility_code: str
    facility_name: str
    jkn_class: int
    premium_assisted: bool
    active: bool


class CitizenOut(OutModel):
    id: int
    national_number: str
    full_name: str
    birth_date: dt.date
    sex: str
    address: str
    region_code: str
    language: str
    photo_ref: str | None
    died_on: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime
    household: MembershipOut | None = None
    enrolments: list[EnrolmentOut] = []
    health: HealthOut | None = None
    # A clerk has yet to decide whether this record is someone already registered
    # (backend/registry/dedup); `duplicate_of`: the person a clerk found it to be.
    pending_review: bool = False
    duplicate_of: int | None = None


class CitizenBrief(OutModel):
    """What a search shows: enough to pick the right person, nothing more."""

    id: int
    national_number: str
    full_name: str
    birth_year: int
    deceased: bool


class CitizenPage(OutModel):
    items: list[CitizenBrief]
    page: int
    per_page: int
    has_more: bool


class ChangeOut(OutModel):
    id: int
    at: dt.datetime
    actor_kind: str
    actor: str
    action: str
    entity: str
    entity_id: int
    field: str | None
    old_value: str | None
    new_value: str | None


class HistoryOut(OutModel):
    citizen_id: int
    changes: list[ChangeOut]


class MemberIn(StrictModel):
    citizen_id: Id
    relationship: MemberRelationship


class ListedMemberIn(StrictModel):
    citizen_id: Id
    relationship: Relationship


class HouseholdIn(StrictModel):
    family_card_number: Annotated[str, StringConstraints(pattern=r"^\d{16}$")]
    head_citizen_id: Id
    region_code: RegionCode | None = None
    welfare_decile: Decile | None = None
    members: list[ListedMemberIn] = []


class HouseholdPatch(StrictModel):
    head_citizen_id: Id | None = None
    previous_head_relationship: MemberRelationship = "other"
    region_code: RegionCode | None = None
    welfare_decile: Decile | None = None


class MemberOut(OutModel):
    citizen_id: int
    full_name: str
    relationship: str


class HouseholdOut(OutModel):
    id: int
    family_card_number: str
    head_citizen_id: int
    region_code: str
    welfare_decile: int | None
    members: list[MemberOut]
    created_at: dt.datetime
    updated_at: dt.datetime
