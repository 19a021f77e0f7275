"""registry tables: citizens, households, members, school, health, history.

Revision ID: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_NOW = sa.text("CURRENT_TIMESTAMP")


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=_NOW),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=_NOW)]


def _head_is_member() -> sa.ForeignKeyConstraint:
    # Checked at commit, so a household and its head's membership can be written together.
    return sa.ForeignKeyConstraint(
        ["id", "head_citizen_id"], ["household_members.household_id",
                                    "household_members.citizen_id"],
        name="fk_households_head_is_member", deferrable=True, initially="DEFERRED")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "citizens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("national_number", sa.String(32), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("name_search", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("region_code", sa.String(10), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("photo_ref", sa.String(200)),
        sa.Column("died_on", sa.Date()),
        *_timestamps(),
        sa.CheckConstraint("sex IN ('F', 'M')", name="sex"),
        sa.CheckConstraint("length(region_code) = 10", name="region_code"),
        sa.UniqueConstraint("national_number", name="uq_citizens_national_number"),
    )
    op.create_index("ix_citizens_region_code", "citizens", ["region_code"])
    if not sqlite:
        # Case-insensitive search on any part of a name (LIKE '%...%' on name_search).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_citizens_name_trgm ON citizens "
                   "USING gin (name_search gin_trgm_ops)")

    op.create_table(
        "households",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("family_card_number", sa.String(32), nullable=False),
        sa.Column("head_citizen_id", sa.Integer(),
                  sa.ForeignKey("citizens.id", name="fk_households_head_citizen_id_citizens"),
                  nullable=False),
        sa.Column("region_code", sa.String(10), nullable=False),
        sa.Column("welfare_decile", sa.Integer()),
        *_timestamps(),
        sa.CheckConstraint("welfare_decile BETWEEN 1 AND 10", name="welfare_decile"),
        sa.UniqueConstraint("family_card_number", name="uq_households_family_card_number"),
        *([_head_is_member()] if sqlite else []),
    )
    op.create_index("ix_households_head_citizen_id", "households", ["head_citizen_id"])
    op.create_index("ix_households_region_code", "households", ["region_code"])
    op.create_index("ix_households_welfare_decile", "households", ["welfare_decile"])

    op.create_table(
        "household_members",
        sa.Column("citizen_id", sa.Integer(),
                  sa.ForeignKey("citizens.id",
                                name="fk_household_members_citizen_id_citizens"),
                  primary_key=True),
        sa.Column("household_id", sa.Integer(),
                  sa.ForeignKey("households.id", deferrable=True, initially="DEFERRED",
                                name="fk_household_members_household_id_households"),
                  nullable=False),
        sa.Column("relationship", sa.String(8), nullable=False),
        sa.CheckConstraint("relationship IN ('head', 'spouse', 'child', 'parent', 'other')",
                           name="relationship"),
        sa.UniqueConstraint("household_id", "citizen_id", name="uq_household_members_pair"),
    )
    op.create_index("ix_household_members_household_id", "household_members",
                    ["household_id"])
    if not sqlite:
        op.create_foreign_key(
            "fk_households_head_is_member", "households", "household_members",
            ["id", "head_citizen_id"], ["household_id", "citizen_id"],
            deferrable=True, initially="DEFERRED")

    op.create_table(
        "school_enrolments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("citizen_id", sa.Integer(),
                  sa.ForeignKey("citizens.id",
                                name="fk_school_enrolments_citizen_id_citizens"),
                  nullable=False),
        sa.Column("school_code", sa.String(32), nullable=False),
        sa.Column("school_name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("academic_year", sa.String(9), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.CheckConstraint("level IN ('primary', 'junior', 'senior')", name="level"),
        sa.CheckConstraint("grade BETWEEN 1 AND 12", name="grade"),
    )
    op.create_index("ix_school_enrolments_citizen_id", "school_enrolments", ["citizen_id"])

    op.create_table(
        "health_assignments",
        sa.Column("citizen_id", sa.Integer(),
                  sa.ForeignKey("citizens.id",
                                name="fk_health_assignments_citizen_id_citizens"),
                  primary_key=True),
        sa.Column("facility_code", sa.String(32), nullable=False),
        sa.Column("facility_name", sa.String(200), nullable=False),
        sa.Column("jkn_class", sa.Integer(), nullable=False),
        sa.Column("premium_assisted", sa.Boolean(), nullable=False,
                  server_default=sa.false()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.CheckConstraint("jkn_class BETWEEN 1 AND 3", name="jkn_class"),
    )

    op.create_table(
        "registry_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer()),
        sa.Column("field", sa.String(64)),
        sa.Column("old_value", sa.Text()),
        sa.Column("new_value", sa.Text()),
    )
    op.create_index("ix_registry_changes_entity", "registry_changes", ["entity", "entity_id"])
    op.create_index("ix_registry_changes_citizen_id", "registry_changes", ["citizen_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_households_head_is_member", "households", type_="foreignkey")
    for table in ("registry_changes", "health_assignments", "school_enrolments",
                  "household_members", "households", "citizens"):
        op.drop_table(table)
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP EXTENSION IF EXISTS pg_trgm")
