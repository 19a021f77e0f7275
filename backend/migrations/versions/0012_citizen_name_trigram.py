"""registry: the name search key without Latin accents, on its trigram index.

Name search matches any part of `name_search`, the search key of `full_name`
(`backend.registry.names.fold_name`). The key now also drops the accents of Latin
letters ("Nguyễn Văn Đức" -> "nguyen van duc"), because Vietnamese and Indonesian
names are often typed without them; Thai marks stay. This revision re-keys the
people whose key changes (names with letters outside ASCII: few in an Indonesian
city), in batches, the same on SQLite and PostgreSQL, so the search behaves the same
on both.

On PostgreSQL the key's trigram GIN index (pg_trgm, `ix_citizens_name_trgm`) is
made sure of (0001 made it; a database restored without it gets it back) and the
table analysed, so the planner's figures are those of the new keys. pg_trgm is a
trusted extension: the database owner may create it. The database's LC_CTYPE must be
a UTF-8 locale (C.UTF-8, en_US.UTF-8), not C, for Thai letters to make trigrams.

Downgrade re-keys with the accents kept, as before.

Revision ID: 0012
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BATCH = 5000
INDEX = "ix_citizens_name_trgm"
citizens = sa.table("citizens", sa.column("id", sa.Integer), sa.column("full_name", sa.String),
                    sa.column("name_search", sa.String))


def _old_key(name: str) -> str:
    """The key before this revision: case-folded, accents kept."""
    if name.isascii():
        return " ".join(name.lower().split())
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _rekey(key: Callable[[str], str]) -> None:
    """Set name_search = key(full_name) where it differs; names in ASCII never do."""
    conn = op.get_bind()
    update = (sa.update(citizens).where(citizens.c.id == sa.bindparam("row_id"))
              .values(name_search=sa.bindparam("new_key")))
    after = 0
    while True:
        rows = conn.execute(sa.select(citizens.c.id, citizens.c.full_name,
                                      citizens.c.name_search)
                            .where(citizens.c.id > after).order_by(citizens.c.id)
                            .limit(BATCH)).all()
        if not rows:
            return
        after = rows[-1].id
        changed = [{"row_id": row.id, "new_key": new} for row in rows
                   if not row.full_name.isascii()
                   and (new := key(row.full_name)) != row.name_search]
        if changed:
            conn.execute(update, changed)


def upgrade() -> None:
    from backend.registry.names import fold_name

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON citizens "
                   "USING gin (name_search gin_trgm_ops)")
    _rekey(fold_name)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE citizens")


def downgrade() -> None:
    _rekey(_old_key)
