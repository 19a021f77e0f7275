"""Migration 0016 partitions a log that already has records, and can be undone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from backend import migrations
from backend.audit.append import append
from backend.audit.record import make_entry
from backend.audit.verify import verify
from backend.db import make_engine
from backend.testing import databases

pytestmark = pytest.mark.postgres

BEFORE = "0015"
MONTHS = (datetime(2025, 11, 20, tzinfo=UTC), datetime(2025, 12, 5, tzinfo=UTC))


@pytest.fixture
def log_before(app_role: str) -> Iterator[Engine]:
    """A database at 0015 whose log has records of two past months and this one, and an
    application role that may INSERT and SELECT it."""
    name = databases.unique_name("sk_part_mig")
    url = databases.create_pg_database(name)
    migrations.upgrade(url, BEFORE)
    engine = make_engine(url, poolclass=None)
    with engine.begin() as conn:
        for at in (*MONTHS, None):
            append(conn, [make_entry(None, action="registry.citizen.read",
                                     subject_type="citizen", subject_id="9", outcome="ok",
                                     purpose="counter", details={"n": 1}, citizen_id=9)] * 2,
                   at=at)
        conn.execute(text(f"GRANT SELECT, INSERT ON audit_records TO {app_role}"))
    yield engine
    engine.dispose()
    databases.drop_pg_database(name)


def _kind(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT relkind FROM pg_class WHERE oid = 'audit_records'::regclass")).scalar()


def _homes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT tableoid::regclass::text FROM audit_records "
                                 "ORDER BY seq")).scalars().all()


def test_upgrade_moves_each_record_into_its_months_partition(log_before):
    migrations.upgrade(log_before.url.render_as_string(hide_password=False))
    this = datetime.now(UTC)
    assert _kind(log_before) == "p"
    assert _homes(log_before) == ["partitions.audit_records_2025_11"] * 2 + \
        ["partitions.audit_records_2025_12"] * 2 + \
        [f"partitions.audit_records_{this:%Y_%m}"] * 2


def test_upgrade_keeps_the_chain_verifiable(log_before):
    migrations.upgrade(log_before.url.render_as_string(hide_password=False))
    with log_before.connect() as conn:
        report = verify(conn, None, None)
    assert report.intact and report.records == 6


def test_upgrade_keeps_the_application_roles_grants(log_before, app_role):
    migrations.upgrade(log_before.url.render_as_string(hide_password=False))
    with log_before.connect() as conn:
        held = {privilege: conn.execute(text(
            "SELECT has_table_privilege(:role, 'audit_records', :privilege)"),
            {"role": app_role, "privilege": privilege}).scalar()
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")}
    assert held == {"SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False}


def test_downgrade_returns_one_plain_table_with_the_same_chain(log_before):
    url = log_before.url.render_as_string(hide_password=False)
    migrations.upgrade(url)
    migrations.downgrade(url, BEFORE)
    assert _kind(log_before) == "r"
    assert set(_homes(log_before)) == {"audit_records"}
    with log_before.connect() as conn:
        report = verify(conn, None, None)
        schema = conn.execute(text("SELECT to_regnamespace('partitions')")).scalar()
        unique = conn.execute(text(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'uq_audit_records_hash'"
        )).scalar()
    assert report.intact and report.records == 6
    assert schema is None and unique == 1


def test_downgrade_keeps_the_append_only_triggers(log_before):
    url = log_before.url.render_as_string(hide_password=False)
    migrations.upgrade(url)
    migrations.downgrade(url, BEFORE)
    with pytest.raises(Exception, match="append-only"), log_before.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE seq = 1"))
