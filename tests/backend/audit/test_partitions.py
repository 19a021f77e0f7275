"""On PostgreSQL the log is partitioned by month, and reads as one chain across them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from backend.audit.access import accesses
from backend.audit.append import append
from backend.audit.record import make_entry
from backend.audit.rows import _PG_COPY, read_chain
from backend.db import database
from tests.support.audit_store import as_role

pytestmark = [pytest.mark.postgres,
              pytest.mark.parametrize("audit_store", ["postgresql"], indirect=True)]


def _month_start(months_from_now: int) -> datetime:
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 + months_from_now
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _partition(month: datetime) -> str:
    return f"partitions.audit_records_{month:%Y_%m}"


def _append(count: int, at: datetime, citizen_id: int = 7) -> None:
    with database().engine.begin() as conn:
        append(conn, [make_entry(None, action="registry.citizen.read", subject_type="citizen",
                                 subject_id=str(citizen_id), outcome="ok", purpose="counter",
                                 details={"fields": ["name"]}, citizen_id=citizen_id)
                      for _ in range(count)], at=at)


def _homes(store) -> dict[int, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT seq, tableoid::regclass::text FROM audit_records ORDER BY seq")).all())


@pytest.fixture
def two_months(audit_store):
    """Three records this month, then three next month, as the hub's role wrote them."""
    this, following = _month_start(0), _month_start(1)
    _append(3, this.replace(day=2))
    _append(3, following.replace(day=2))
    return audit_store, this, following


def test_records_of_two_months_land_in_their_months_partitions(two_months):
    store, this, following = two_months
    homes = _homes(store)
    assert [homes[seq] for seq in range(1, 7)] == [_partition(this)] * 3 + \
        [_partition(following)] * 3


def test_records_of_two_months_verify_as_one_chain(two_months):
    store, _this, _following = two_months
    store.checkpoint()
    report = store.verify()
    assert report.intact, report.to_dict()
    assert (report.records, report.last_seq) == (6, 6)


def test_a_record_edited_in_an_older_partition_is_named_at_its_position(two_months):
    store, this, _following = two_months
    store.checkpoint()
    with store.tamper() as conn:
        conn.execute(text(f"UPDATE {_partition(this)} SET purpose = 'curiosity' "
                          "WHERE seq = 2"))
    edited = store.verify().first("edited")
    assert edited is not None and edited.position == 2


def test_the_parallel_verifier_checks_the_link_between_partitions(two_months):
    store, _this, following = two_months
    with store.tamper() as conn:
        conn.execute(text(f"UPDATE {_partition(following)} SET prev_hash = "
                          "decode(repeat('ab', 32), 'hex') WHERE seq = 4"))
    report = store.verify(jobs=2)
    edited = report.first("edited")
    assert edited is not None and edited.position == 4


def test_the_access_log_lists_reads_of_every_month_newest_first(two_months):
    store, _this, _following = two_months
    with store.engine.connect() as conn:
        listed = accesses(conn, 7)
    assert [entry.seq for entry in listed] == [6, 5, 4, 3, 2, 1]


def test_a_month_without_a_partition_lands_in_the_default_partition(audit_store):
    _append(1, datetime(2041, 3, 5, tzinfo=UTC))
    assert _homes(audit_store) == {1: "partitions.audit_records_default"}
    assert audit_store.verify().intact


@pytest.mark.parametrize("statement", [
    "UPDATE {part} SET purpose = 'x'",
    "DELETE FROM {part}",
    "TRUNCATE {part}",
    "INSERT INTO {part} SELECT * FROM audit_records",
    "SELECT count(*) FROM {part}",
])
def test_the_application_role_cannot_name_a_partition(two_months, pg_roles, fresh_pg_url,
                                                      engine_for, statement):
    _store, this, _following = two_months
    with engine_for(as_role(fresh_pg_url, pg_roles.app)).connect() as conn, \
            pytest.raises(ProgrammingError, match="permission denied for schema partitions"):
        conn.execute(text(statement.format(part=_partition(this))))


@pytest.mark.parametrize("partition", ["this month", "default"])
def test_even_the_owner_cannot_truncate_a_partition_while_the_triggers_stand(
        two_months, pg_roles, fresh_pg_url, engine_for, partition):
    _store, this, _following = two_months
    name = _partition(this) if partition == "this month" else \
        "partitions.audit_records_default"
    with engine_for(as_role(fresh_pg_url, pg_roles.owner)).connect() as conn, \
            pytest.raises(ProgrammingError, match="append-only"):
        conn.execute(text(f"TRUNCATE {name}"))


def test_even_the_owner_cannot_delete_from_a_partition_while_the_triggers_stand(
        two_months, pg_roles, fresh_pg_url, engine_for):
    _store, this, _following = two_months
    with engine_for(as_role(fresh_pg_url, pg_roles.owner)).connect() as conn, \
            pytest.raises(ProgrammingError, match="append-only"):
        conn.execute(text(f"DELETE FROM {_partition(this)} WHERE seq = 1"))


def _plan(conn, query: str) -> str:
    return "\n".join(conn.execute(text(f"EXPLAIN (COSTS OFF) {query}")).scalars())


def test_the_verifiers_read_merges_each_months_key_index_without_sorting(two_months):
    store, _this, _following = two_months
    read = _PG_COPY.format(where="WHERE seq >= 1").strip().removeprefix("COPY (") \
        .rsplit(") TO STDOUT", 1)[0]
    with store.engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_sort = off"))  # as rows.py reads the chain
        plan = _plan(conn, read)
    assert "Merge Append" in plan and "Sort" not in plan.replace("Sort Key", "")
    assert "_pkey" in plan


def test_reading_the_chain_leaves_the_sessions_planner_settings_as_they_were(two_months):
    store, _this, _following = two_months
    with store.engine.begin() as conn:
        assert len(list(read_chain(conn))) == 6
        assert conn.execute(text("SELECT current_setting('enable_sort')")).scalar() == "on"

