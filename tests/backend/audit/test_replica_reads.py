"""The audit log's readers on a streaming replica (SATUKARTU_DATABASE_REPLICA_URL): a real
hot standby of a private primary, following its WAL. A reader sees on the replica every
record committed before it asked; a replica that lags or is down is passed over, and
the primary answers as it would without one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend import migrations
from backend.app import create_app
from backend.config import ConfigError
from backend.observability.metrics import exposition
from backend.testing.identity import bearer, make_staff
from backend.testing.registry import make_citizen
from tests.backend.observability.metrics_text import sample
from tests.support.private_services import PrivatePostgres

pytestmark = pytest.mark.postgres
# Long enough for a busy machine's replay; the lagging replica's test waits less.
WAIT_MS = 10_000


@pytest.fixture(scope="module")
def primary() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().init()
    try:
        server.start()
        migrations.upgrade(server.create_database("city"))
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def replica(primary: PrivatePostgres) -> Iterator[PrivatePostgres]:
    # Every statement logged: the test reads there what the replica was asked.
    server = primary.standby("log_statement = 'all'")
    try:
        yield server
    finally:
        server.destroy()


@contextmanager
def _hub_reading_on(primary_url: str, replica_url: str, instance: Path,
                    wait_ms: int = WAIT_MS) -> Iterator[Flask]:
    app = create_app(DATABASE_URL=primary_url, DATABASE_REPLICA_URL=replica_url,
                     DATABASE_REPLICA_WAIT_MS=wait_ms, INSTANCE_DIR=str(instance),
                     SECRET_KEY="test-secret-key-not-for-production")
    try:
        yield app
    finally:
        db = app.extensions["satukartu.db"]
        db.engine.dispose()
        db.replica.dispose()


@pytest.fixture
def hub(primary: PrivatePostgres, replica: PrivatePostgres, tmp_path: Path) -> Iterator[Flask]:
    with _hub_reading_on(primary.url("city"), replica.url("city"), tmp_path) as app:
        yield app


def _clerk_reads_someone(hub: Flask, purpose: str) -> int:
    with hub.app_context():
        person = make_citizen(full_name="Ani Lestari")
    clerk = make_staff(hub, "clerk").token
    answer = hub.test_client().get(f"/api/v1/citizens/{person.id}",
                                   query_string={"purpose": purpose}, headers=bearer(clerk))
    assert answer.status_code == 200, answer.json
    return person.id


def _auditors_listing(hub: Flask, citizen_id: int) -> list[str]:
    client: FlaskClient = hub.test_client()
    answer = client.get("/api/v1/audit/records", query_string={"citizen_id": citizen_id},
                        headers=bearer(make_staff(hub, "auditor").token))
    assert answer.status_code == 200, answer.json
    return [r["purpose"] for r in answer.json["records"]]


def _served(hub: Flask, by: str) -> float:
    """The counter as Prometheus scrapes it."""
    text = exposition(hub.extensions["satukartu.db"].engine).decode()
    return sample(text, "satukartu_audit_reads_total", served_by=by)


def _auditor_sees_a_read_just_made(hub: Flask, purpose: str, served_by: str) -> None:
    """A clerk reads someone; the auditor's listing, served as `served_by` says, has it."""
    before = _served(hub, served_by)
    person = _clerk_reads_someone(hub, purpose)
    assert _auditors_listing(hub, person) == [purpose]
    assert _served(hub, served_by) == before + 1


def test_the_replica_serves_a_reader_every_record_committed_before_it_asked(
        hub: Flask, replica: PrivatePostgres):
    logged = replica.log.stat().st_size
    _auditor_sees_a_read_just_made(hub, "clinic registration", "replica")
    with replica.log.open() as log:
        log.seek(logged)
        assert "FROM audit_records" in log.read()


def test_the_readers_own_record_goes_to_the_primary_and_the_next_reader_sees_it(hub: Flask):
    person = _clerk_reads_someone(hub, "school enrolment")
    assert _auditors_listing(hub, person) == ["school enrolment"]
    assert _auditors_listing(hub, person) == ["school enrolment", "audit"]


def test_a_replica_that_lags_is_passed_over_and_the_primary_answers(
        primary: PrivatePostgres, replica: PrivatePostgres, tmp_path: Path):
    with (_hub_reading_on(primary.url("city"), replica.url("city"), tmp_path, 200) as hub,
          psycopg.connect(replica.url("city"), autocommit=True) as standby):
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            _auditor_sees_a_read_just_made(hub, "domicile letter", "lagging")
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")


def test_a_replica_that_is_down_is_passed_over_and_the_primary_answers(
        hub: Flask, replica: PrivatePostgres):
    replica.stop("immediate")
    try:
        _auditor_sees_a_read_just_made(hub, "payout", "unreachable")
    finally:
        replica.start()


def test_a_replica_url_naming_a_primary_is_passed_over(primary: PrivatePostgres,
                                                     tmp_path: Path):
    with _hub_reading_on(primary.url("city"), primary.url("city"), tmp_path) as app:
        _auditor_sees_a_read_just_made(app, "housing", "not_replica")


def test_a_replica_needs_postgresql_on_both_sides(tmp_path: Path):
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL"):
        create_app(DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
                   DATABASE_REPLICA_URL="postgresql://postgres@127.0.0.1/city",
                   INSTANCE_DIR=str(tmp_path))
