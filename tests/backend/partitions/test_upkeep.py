"""The coming months' partitions are made ahead of time, once, by whoever runs the upkeep."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from backend.audit.append import append
from backend.audit.record import make_entry
from backend.cli import main
from backend.db import make_engine
from backend.partitions.tasks import BEAT, ensure_task
from backend.partitions.upkeep import ensure, listing
from backend.tasks import celery_init_app
from tests.support.audit_store import as_role

pytestmark = pytest.mark.postgres


PARTITIONED = ("audit_records", "journal_entries", "journal_lines")  # migrations 0016, 0017


def _month(months_from_now: int, table: str = "audit_records") -> str:
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 + months_from_now
    return f"{table}_{index // 12:04d}_{index % 12 + 1:02d}"


@pytest.fixture
def app_conn(pg_roles, fresh_pg_url, engine_for):
    """A connection as the hub's role, which owns nothing."""
    with engine_for(as_role(fresh_pg_url, pg_roles.app)).connect() as conn:
        yield conn


def test_upkeep_makes_the_missing_coming_months(app_conn):
    made = ensure(app_conn, months_ahead=5)
    # the migrations made this month and 3 more, of every partitioned table
    assert made == [_month(m, table) for table in PARTITIONED for m in (4, 5)]


def test_upkeep_run_twice_makes_nothing_the_second_time(app_conn):
    ensure(app_conn, months_ahead=5)
    assert ensure(app_conn, months_ahead=5) == []


def test_partitions_made_through_the_hubs_role_belong_to_the_owner(app_conn, pg_roles):
    ensure(app_conn, months_ahead=4)
    owner = app_conn.execute(text(
        "SELECT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'partitions' AND c.relname = :name"),
        {"name": _month(4)}).scalar()
    assert owner == pg_roles.owner


def test_a_new_partition_refuses_truncate_like_the_others(app_conn, pg_roles, fresh_pg_url,
                                                          engine_for):
    ensure(app_conn, months_ahead=4)
    app_conn.commit()
    with engine_for(as_role(fresh_pg_url, pg_roles.owner)).connect() as conn, \
            pytest.raises(Exception, match="append-only"):
        conn.execute(text(f"TRUNCATE partitions.{_month(4)}"))


def test_the_hubs_role_cannot_make_a_partition_of_its_choosing(app_conn):
    with pytest.raises(Exception, match="permission denied for function"):
        app_conn.execute(text("SELECT partitions_add_month('audit_records', '2000-01-01')"))


def test_upkeep_leaves_a_month_the_default_partition_already_holds(app_conn):
    crowded = datetime.now(UTC).replace(day=1)
    index = crowded.year * 12 + crowded.month - 1 + 5
    crowded = datetime(index // 12, index % 12 + 1, 3, tzinfo=UTC)
    append(app_conn, [make_entry(None, action="x.read", subject_type=None, subject_id=None,
                                 outcome="ok", purpose=None, details={}, citizen_id=None)],
           at=crowded)
    made = ensure(app_conn, months_ahead=6)
    assert [name for name in made if name.startswith("audit")] == [_month(4), _month(6)]
    assert _month(5, "journal_entries") in made  # the journal's default holds nothing
    assert app_conn.execute(text("SELECT count(*) FROM audit_records")).scalar() == 1


@pytest.mark.parametrize("table", PARTITIONED)
def test_upkeep_lists_each_tables_months_in_order_and_its_default_last(app_conn, table):
    names = [part.name for part in listing(app_conn) if part.table == table]
    assert names == [_month(i, table) for i in range(4)] + [f"{table}_default"]


def test_upkeep_refuses_a_month_count_beyond_three_years(app_conn):
    with pytest.raises(ValueError, match="0..36"):
        ensure(app_conn, months_ahead=37)


def test_upkeep_has_nothing_to_do_on_sqlite(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    with engine.connect() as conn:
        assert ensure(conn) == [] and listing(conn) == []
    engine.dispose()


def test_the_command_makes_and_lists_partitions(pg_roles, fresh_pg_url, tmp_path: Path):
    env = {"SATUKARTU_DATABASE_URL": as_role(fresh_pg_url, pg_roles.app),
           "SATUKARTU_INSTANCE_DIR": str(tmp_path),
           "SATUKARTU_SECRET_KEY": "test-secret-key-not-for-production"}
    result = CliRunner().invoke(main, ["db", "partitions", "--months-ahead", "4"], env=env)
    assert result.exit_code == 0, result.output
    assert f"made partitions.{_month(4)}" not in result.output  # names are schema-less
    assert f"made {_month(4)}" in result.output
    assert "audit_records_default  DEFAULT" in result.output


def test_the_beat_runs_the_upkeep_every_day(committing_app):
    entry = celery_init_app(committing_app).conf.beat_schedule["partitions-ensure-daily"]
    assert entry == BEAT["partitions-ensure-daily"] and entry["task"] == ensure_task.name
    assert ensure_task() == []  # the migration made this month and the next three
