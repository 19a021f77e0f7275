"""The integrated registry: people, households and the facts services decide on.

Every service reads these tables; none writes them except through
`backend.registry.service` (API, CLI) or the bulk importer. A person is never
deleted: a death is recorded (`died_on`), and every change leaves a `RegistryChange`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

SEXES = ("F", "M")
RELATIONSHIPS = ("head", "spouse", "child", "parent", "other")
SCHOOL_LEVELS = ("primary", "junior", "senior")
DISTRICT_DIGITS = 6  # province, regency, district: the leading digits of a region code
MAX_ID = 2**31 - 1  # ids are INTEGER: a larger one names no row (and must not reach SQL)


def district_of(region_code: Any) -> ColumnElement[str]:
    """The district (kecamatan) of a region code, PPRRDD of PPRRDDVVVV: the unit a
    district office serves and a NIK is registered in, so work split by it follows
    the city's own offices."""
    return func.substr(region_code, 1, DISTRICT_DIGITS)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Citizen(Base):
    __tablename__ = "citizens"
    __table_args__ = (
        CheckConstraint(_in("sex", SEXES), name="sex"),
        CheckConstraint("length(region_code) = 10", name="region_code"),
        # Searched with LIKE '%...%': a trigram index on PostgreSQL (see migration 0001).
        Index("ix_citizens_name_trgm", "name_search", postgresql_using="gin",
              postgresql_ops={"name_search": "gin_trgm_ops"}),
        # The same key with its spaces out, for parts of two words (migration 0014).
        Index("ix_citizens_name_joined_trgm",
              func.replace(text("name_search"), " ", "").label("name_joined"),
              postgresql_using="gin", postgresql_ops={"name_joined": "gin_trgm_ops"}),
        # A district's citizens in id order, for an allocation split by district (0015).
        Index("ix_citizens_district_id", district_of(text("region_code")), "id"),
        # The people born on a day and on the days one slip from it (dedup, 0021).
        Index("ix_citizens_birth_date", "birth_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    national_number: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # full_name case-folded with single spaces: the indexed key of name search.
    name_search: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    address: Mapped[str] = mapped_column(String(300), default="")
    region_code: Mapped[str] = mapped_column(String(10), index=True)
    language: Mapped[str] = mapped_column(String(8), default="id")
    photo_ref: Mapped[str | None] = mapped_column(String(200))
    died_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp())


class Household(Base):
    """A family card (Kartu Keluarga): its head must be one of its members.

    The database holds that rule too: (id, head_citizen_id) refers to a membership row,
    checked at commit, so a household can be created together with its members.
    """

    __tablename__ = "households"
    __table_args__ = (
        CheckConstraint("welfare_decile BETWEEN 1 AND 10", name="welfare_decile"),
        ForeignKeyConstraint(
            ["id", "head_citizen_id"],
            ["household_members.household_id", "household_members.citizen_id"],
            name="fk_households_head_is_member", deferrable=True, initially="DEFERRED",
            use_alter=True),
        # A district's households in id order, for an allocation split by district (0015).
        Index("ix_households_district_id", district_of(text("region_code")), "id"),
    )

    # autoincrement stated: id is also in the composite foreign key above.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    family_card_number: Mapped[str] = mapped_column(String(32), unique=True)
    head_citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(10), index=True)
    welfare_decile: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp())


class HouseholdMember(Base):
    """A person's place in one household (a person is on one family card at a time)."""

    __tablename__ = "household_members"
    __table_args__ = (
        CheckConstraint(_in("relationship", RELATIONSHIPS), name="relationship"),
        UniqueConstraint("household_id", "citizen_id", name="uq_household_members_pair"),
    )

    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", deferrable=True, initially="DEFERRED"), index=True)
    relationship: Mapped[str] = mapped_column(String(8))


class SchoolEnrolment(Base):
    __tablename__ = "school_enrolments"
    __table_args__ = (
        CheckConstraint(_in("level", SCHOOL_LEVELS), name="level"),
        CheckConstraint("grade BETWEEN 1 AND 12", name="grade"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    school_code: Mapped[str] = mapped_column(String(32))
    school_name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(8))
    grade: Mapped[int] = mapped_column(Integer)
    academic_year: Mapped[str] = mapped_column(String(9))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class HealthAssignment(Base):
    """A person's national health insurance (JKN) membership and first-level clinic."""

    __tablename__ = "health_assignments"
    __table_args__ = (CheckConstraint("jkn_class BETWEEN 1 AND 3", name="jkn_class"),)

    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), primary_key=True)
    facility_code: Mapped[str] = mapped_column(String(32))
    facility_name: Mapped[str] = mapped_column(String(200))
    jkn_class: Mapped[int] = mapped_column(Integer)
    premium_assisted: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class RegistryChange(Base):
    """History: who changed which field of which record, from what to what, and when."""

    __tablename__ = "registry_changes"
    __table_args__ = (Index("ix_registry_changes_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp())
    actor_kind: Mapped[str] = mapped_column(String(16))  # staff | terminal | card | system
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))  # create | update | death | member_add ...
    entity: Mapped[str] = mapped_column(String(32))  # citizen | household | ...
    entity_id: Mapped[int] = mapped_column(Integer)
    citizen_id: Mapped[int | None] = mapped_column(Integer, index=True)
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
