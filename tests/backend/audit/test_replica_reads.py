"""The audit log's readers on a streaming replica (SATUKARTU_DATABASE_REPLICA_URL): a real
hot standby of a private primary, following its WAL. A reader sees on the replica every
record committed before it asked; a replica that lags or is down is passed over, and
the primary answers as it would without one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend import migrations
from backend.app import create_app
from backend.audit.reading import READS
from backend.config import ConfigError
from backend.testing.identity import bearer, make_staff
from backend.testing.registry import make_citizen
from tests.support.private_services import PrivatePostgres

pytestmark = pytest.mark.postgres
WAIT_MS = 300


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


@pytest.fixture
def hub(primary: PrivatePostgres, replica: PrivatePostgres, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(DATABASE_URL=primary.url("city"), DATABASE_REPLICA_URL=replica.url("city"),
                     DATABASE_REPLICA_WAIT_MS=WAIT_MS, INSTANCE_DIR=str(tmp_path),
                     SECRET_KEY="test-secret-key-not-for-production")
    yield app
    db = app.extensions["satukartu.db"]
    db.engine.dispose()
    db.replica.dispose()


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


def _served(by: str) -> float:
    return READS.labels(by)._value.get()


def test_the_replica_serves_a_reader_every_record_committed_before_it_asked(
        hub: Flask, replica: PrivatePostgres):
    before, logged = _served("replica"), replica.log.stat().st_size
    person = _clerk_reads_someone(hub, "clinic registration")
    assert _auditors_listing(hub, person) == ["clinic registration"]
    assert _served("replica") == before + 1
    with replica.log.open() as log:
        log.seek(logged)
        assert "FROM audit_records" in log.read()


def test_the_readers_own_record_goes_to_the_primary_and_the_next_reader_sees_it(hub: Flask):
    person = _clerk_reads_someone(hub, "school enrolment")
    assert _auditors_listing(hub, person) == ["school enrolment"]
    assert _auditors_listing(hub, person) == ["school enrolment", "audit"]


def test_a_replica_that_lags_is_passed_over_and_the_primary_answers(
        hub: Flask, replica: PrivatePostgres):
    with psycopg.connect(replica.url("city"), autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            before = _served("lagging")
            person = _clerk_reads_someone(hub, "domicile letter")
            assert _auditors_listing(hub, person) == ["domicile letter"]
            assert _served("lagging") == before + 1
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")


def test_a_replica_that_is_down_is_passed_over_and_the_primary_answers(
        hub: Flask, replica: PrivatePostgres):
    replica.stop("immediate")
    try:
        before = _served("unreachable")
        person = _clerk_reads_someone(hub, "payout")
        assert _auditors_listing(hub, person) == ["payout"]
        assert _served("unreachable") == before + 1
    finally:
        replica.start()


def test_a_replica_url_naming_a_primary_is_passed_over(primary: PrivatePostgres,
                                                     tmp_path: Path):
    app = create_app(DATABASE_URL=primary.url("city"), DATABASE_REPLICA_URL=primary.url("city"),
                     INSTANCE_DIR=str(tmp_path), SECRET_KEY="test-secret-key-not-for-production")
    try:
        before = _served("not_replica")
        person = _clerk_reads_someone(app, "housing")
        assert _auditors_listing(app, person) == ["housing"]
        assert _served("not_replica") == before + 1
    finally:
        app.extensions["satukartu.db"].engine.dispose()
        app.extensions["satukartu.db"].replica.dispose()


def test_a_replica_needs_postgresql_on_both_sides(tmp_path: Path):
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL"):
        create_app(DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
                   DATABASE_REPLICA_URL="postgresql://postgres@127.0.0.1/city",
                   INSTANCE_DIR=str(tmp_path))
