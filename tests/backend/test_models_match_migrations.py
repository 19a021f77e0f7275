"""The models match the migrations, on PostgreSQL and on SQLite.

A fresh database is migrated to head (PostgreSQL: a copy of the migrated template of
backend.testing.plugin; SQLite: a new file) and Alembic's autogenerate compares it
with the models' metadata, by the rules of backend.migrations.compare (the same rules
`satukartu db revision` writes by): no difference is allowed. SQLite is compared too:
with these models it reports no spurious type differences, and the hub runs on it.

Autogenerate does not compare CHECK constraints, so their names are compared here
(not their SQL, which each database rewrites in its own words). The exclusions of
backend.migrations.compare are checked to hide only what they say they do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import Engine

from backend import migrations
from backend.cli import main
from backend.db import Base, make_engine
from backend.migrations import compare
from backend.models import import_all

# PostgreSQL rewrites the computed column's expression (ledger_accounts.owner_id), so
# Alembic, which cannot compare computed expressions, warns; it reports no difference.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Computed default on ledger_accounts.owner_id cannot be modified")


@pytest.fixture(params=["postgresql", "sqlite"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh database migrated to head."""
    if request.param == "postgresql":
        url = request.getfixturevalue("fresh_pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'head.db'}"
        migrations.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_autogenerate_finds_no_difference(migrated: Engine):
    with migrated.connect() as conn:
        found = compare.differences(conn)
    assert found == [], (
        "the models and the migrations differ: write a migration (`satukartu db revision "
        f"-m ...`) or fix the model, whichever is the truth:\n{found!r}")


def test_check_constraints_match_by_name(migrated: Engine):
    import_all()
    inspector = sa.inspect(migrated)
    drift = {}
    for table in Base.metadata.sorted_tables:
        modelled = {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        migrated_ = {c["name"] for c in inspector.get_check_constraints(table.name)}
        if modelled != migrated_:
            drift[table.name] = {"models only": modelled - migrated_,
                                 "migrations only": migrated_ - modelled}
    assert not drift, f"CHECK constraints differ: {drift}"


def test_exclusions_hide_only_what_they_say(migrated: Engine):
    """Each excluded object exists exactly on the databases its exclusion names."""
    import_all()
    dialect = migrated.dialect.name
    inspector = sa.inspect(migrated)
    tables = set(inspector.get_table_names())
    for table, where in compare.UNMAPPED_TABLES.items():
        assert table not in Base.metadata.tables, f"{table} is mapped now: drop its exclusion"
        assert (table in tables) == (dialect in where), (table, dialect)
    modelled = {index.name: index.table.name for table in Base.metadata.tables.values()
                for index in table.indexes}
    for index, where in compare.INDEX_DIALECTS.items():
        assert index in modelled, f"no model declares {index}: drop its exclusion"
        names = {found["name"] for found in inspector.get_indexes(modelled[index])}
        assert (index in names) == (dialect in where), (index, dialect)
    constrained = {constraint.name: table.name for table in Base.metadata.tables.values()
                   for constraint in table.constraints
                   if isinstance(constraint, sa.UniqueConstraint)}
    for name, where in compare.CONSTRAINT_DIALECTS.items():
        assert name in constrained, f"no model declares {name}: drop its exclusion"
        names = {found["name"] for found in inspector.get_unique_constraints(constrained[name])}
        assert (name in names) == (dialect in where), (name, dialect)
    for (table, column), where in compare.UNMAPPED_COLUMNS.items():
        assert column not in Base.metadata.tables[table].c, f"{table}.{column} is mapped now"
        names = {found["name"] for found in inspector.get_columns(table)}
        assert (column in names) == (dialect in where), (table, column, dialect)
    keys = {key["name"] for table in tables for key in inspector.get_foreign_keys(table)}
    for name, where in compare.UNMAPPED_FOREIGN_KEYS.items():
        assert (name in keys) == (dialect in where), (name, dialect)
    declared = {key.name for table in Base.metadata.tables.values()
                for key in table.foreign_key_constraints}
    for name, where in compare.FOREIGN_KEY_DIALECTS.items():
        assert name in declared, f"no model declares {name}: drop its exclusion"
        assert (name in keys) == (dialect in where), (name, dialect)


def test_next_revision_id_follows_the_highest_number(tmp_path: Path):
    for name in ("0001_registry.py", "0012_citizen_name_trigram.py", "README", "x_0099.py"):
        (tmp_path / name).write_text("")
    assert migrations.next_revision_id(tmp_path) == "0013"
    highest = max(int(path.name[:4]) for path in migrations.VERSIONS.glob("[0-9]*.py"))
    assert migrations.next_revision_id(migrations.VERSIONS) == f"{highest + 1:04d}"


def test_db_revision_writes_nothing_when_the_models_match():
    before = set(migrations.VERSIONS.glob("*.py"))
    try:
        result = CliRunner().invoke(main, ["db", "revision", "-m", "nothing to change"])
    finally:
        written = set(migrations.VERSIONS.glob("*.py")) - before
        for path in written:  # a drift's revision: not this test's to leave in the tree
            path.unlink()
    assert not written, f"wrote {written}: {result.output}"
    assert result.exit_code == 1, result.output
    assert "nothing to generate: the models match the migrations" in result.output
