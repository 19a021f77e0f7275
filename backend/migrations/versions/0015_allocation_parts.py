"""ledger: an allocation's progress kept per part, and the districts indexed for it.

A period's allocation can be split by district so that several workers share it
(`backend.ledger.parts`). Each part walks its own beneficiaries and keeps its own
progress row, so `ledger_allocation_runs` gains `part` in its key: a district code
(the first six digits of the registry's region code: province, city, district), or
`all` for the unsplit run, which every existing row was.

A part reads its district's beneficiaries in id order, `batch` at a time; the
expression indexes on (district, id) make that a range scan of the district alone
rather than a pass over the whole registry for every part.

Revision ID: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DISTRICT = sa.text("substr(region_code, 1, 6)")


def upgrade() -> None:
    with op.batch_alter_table("ledger_allocation_runs") as batch:
        batch.add_column(sa.Column("part", sa.String(16), nullable=False,
                                   server_default="all"))
        batch.drop_constraint("pk_ledger_allocation_runs", type_="primary")
        batch.create_primary_key("pk_ledger_allocation_runs",
                                 ["programme", "purse", "period", "part"])
    op.create_index("ix_households_district_id", "households", [DISTRICT, "id"])
    op.create_index("ix_citizens_district_id", "citizens", [DISTRICT, "id"])


def downgrade() -> None:
    op.drop_index("ix_citizens_district_id", "citizens")
    op.drop_index("ix_households_district_id", "households")
    # The split rows fold back into nothing: their grants stay, an unsplit run of the
    # same period finds them granted and writes nothing for them.
    op.execute("DELETE FROM ledger_allocation_runs WHERE part <> 'all'")
    with op.batch_alter_table("ledger_allocation_runs") as batch:
        batch.drop_constraint("pk_ledger_allocation_runs", type_="primary")
        batch.create_primary_key("pk_ledger_allocation_runs",
                                 ["programme", "purse", "period"])
        batch.drop_column("part")
