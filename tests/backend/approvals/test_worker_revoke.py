"""Revoking 10,000 cards as an approved job, done by a real Celery worker (Redis broker).

The city's database is real and committed (SQLite file and PostgreSQL); the worker runs
in this process on a queue of its own; the test reads the job's row from its own
connection, as a screen polling GET /jobs/{id} would.
"""

import time
from contextlib import contextmanager

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select

from backend.approvals import service
from backend.audit.sequencer import settle
from backend.bulk import jobs, runner
from backend.bulk.models import BulkJob
from backend.cards.models import Card
from backend.db import database
from backend.tasks import celery_init_app
from backend.testing.audit import list_records
from backend.testing.identity import make_staff
from tests.backend.approvals.conftest import as_principal, commit_cards
from tests.support.task_queue import private_queue

pytestmark = [pytest.mark.celery, pytest.mark.slow]
REDIS = "redis://127.0.0.1:6379/0"
CARDS = 10_000
BATCH = 500  # 20 batches (and CRLs) instead of 50: the same behaviour, a shorter run


@contextmanager
def worker(app):
    app.config.update(BROKER_URL=REDIS, RESULT_BACKEND=REDIS, BULK_BATCH=BATCH)
    celery = celery_init_app(app)
    queue = private_queue(celery, "bulk-test")  # not shared with anyone's worker
    with start_worker(celery, pool="solo", perform_ping_check=False, queues=[queue],
                      shutdown_timeout=30):
        yield


def job_row(job_id):
    with database().engine.connect() as conn:
        return conn.execute(select(BulkJob.status, BulkJob.cursor, BulkJob.done,
                                   BulkJob.failed, BulkJob.total)
                            .where(BulkJob.id == job_id)).one()


def watch(job_id, until, limit=600):
    """Poll the job's row until `until(row)`; every `processed` count seen on the way."""
    seen = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        row = job_row(job_id)
        seen.append(row.cursor)
        if until(row):
            return row, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got there: {job_row(job_id)}")


def approved_revocation(app, serials):
    """A cards.revoke request by one admin, approved by another, carried out (queued)."""
    maker, checker = make_staff(app, "admin"), make_staff(app, "admin")
    with database().transaction() as tx:
        row = service.request_approval(tx, "cards.revoke",
                                       {"serials": serials, "reason": "cessationOfOperation"},
                                       as_principal(maker))
    with database().transaction() as tx:
        service.approve(tx, row.id, as_principal(checker), "matches the death register")
    with database().transaction() as tx:
        _, done = service.carry_out(tx, row.id, as_principal(maker))
    return done.job_id


@pytest.fixture
def ten_thousand(city):
    """10,000 live cards, 3 already revoked and 2 serials that name no card: the list."""
    live = commit_cards(CARDS)
    gone = commit_cards(3, status="revoked")
    unknown = ["AAAA-0000-ZZZ1", "AAAA-0000-ZZZ2"]
    return live, gone, unknown, live[:5000] + gone + unknown[:1] + live[5000:] + unknown[1:]


def test_a_worker_revokes_ten_thousand_cards_with_progress_between_batches(city, ten_thousand):
    live, gone, unknown, listed = ten_thousand
    with worker(city):
        job_id = approved_revocation(city, listed)
        final, seen = watch(job_id, lambda row: row.status not in ("queued", "running"))
    assert (final.status, final.done, final.failed) == ("finished", CARDS, 5)
    between = {count for count in seen if 0 < count < final.total}
    assert len(between) >= 2, seen  # the count moved batch by batch, readable meanwhile
    assert _statuses(live) == {"revoked": CARDS}
    with database().transaction() as tx:
        text = jobs.failures_csv(tx, job_id)
    lines = text.splitlines()
    assert lines[0] == "row,key,reason,message"
    assert sorted(line.split(",")[1] for line in lines[1:]) == sorted(gone + unknown)


def cancel_after_the_first_batch(monkeypatch, admin):
    """The admin's cancel lands between the first batch and the second, whatever the
    machine's speed: it is made in the first batch's transaction, as the worker ends it."""
    first = runner._one_batch
    cancelled = []

    def then_cancel(tx, job_id, *args, **kwargs):
        status = first(tx, job_id, *args, **kwargs)
        if not cancelled and status == "running":
            cancelled.append(jobs.cancel_job(tx, job_id, admin).id)
        return status

    monkeypatch.setattr(runner, "_one_batch", then_cancel)
    return cancelled


def test_a_cancelled_job_resumed_revokes_each_card_exactly_once(city, ten_thousand,
                                                                monkeypatch):
    live, gone, unknown, listed = ten_thousand
    admin = as_principal(make_staff(city, "admin"))
    cancelled = cancel_after_the_first_batch(monkeypatch, admin)
    with worker(city):
        job_id = approved_revocation(city, listed)
        stopped, _ = watch(job_id, lambda row: row.status == "cancelled")
        assert cancelled == [job_id]
        assert 0 < stopped.cursor < stopped.total
        assert job_row(job_id).cursor == stopped.cursor  # nothing moves while cancelled
        with database().transaction() as tx:
            jobs.resume_job(tx, job_id, admin)
        final, _ = watch(job_id, lambda row: row.status not in ("queued", "running"))
    assert (final.status, final.done, final.failed) == ("finished", CARDS, 5)
    assert _statuses(live) == {"revoked": CARDS}
    settle(database().engine)
    with database().engine.connect() as conn:
        revoked = [r["subject_id"] for r in list_records(conn, action="card.revoke")]
    assert sorted(revoked) == sorted(live)  # one record per card: none done twice


def _statuses(serials):
    with database().engine.connect() as conn:
        return dict(conn.execute(select(Card.status, func.count()).where(
            Card.serial.in_(serials)).group_by(Card.status)).all())
