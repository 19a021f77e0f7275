"""The clerk's queue on the wire: a pair side by side, with only what tells them apart."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from backend.api.routing import OutModel, StrictModel
from backend.registry.schemas import Purpose

# What a clerk compares: the fields the match was made on, and the number and sex that
# settle it. The address, household and facts stay behind the full record's read.
SHOWN = ("national_number", "full_name", "birth_date", "sex", "region_code")


class QueueQuery(StrictModel):
    purpose: Purpose
    page: Annotated[int, Field(ge=1, le=10_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=100)] = 20


class PersonSide(OutModel):
    id: int
    national_number: str
    full_name: str
    birth_date: dt.date
    sex: str
    region_code: str


class CandidateOut(OutModel):
    id: int
    score: float
    name_similarity: float
    matched: list[str]
    source: str
    status: str
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    note: str | None
    new: PersonSide | None = None
    existing: PersonSide | None = None


class CandidatePage(OutModel):
    items: list[CandidateOut]
    page: int
    per_page: int
    has_more: bool


class DecisionIn(StrictModel):
    decision: Literal["same_person", "different_people"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None
