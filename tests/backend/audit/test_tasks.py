"""Checkpoints come from Celery: beat every minute, and a task after every 1,000 records."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from backend.audit import record
from backend.audit.models import AuditCheckpoint
from backend.audit.tasks import BEAT, EVERY_RECORDS
from backend.db import database
from backend.tasks import celery_init_app
from tests.support.task_queue import private_queue

REDIS = "redis://127.0.0.1:6379/0"


def test_beat_checkpoints_every_minute(committing_app):
    celery = celery_init_app(committing_app)
    entry = celery.conf.beat_schedule["audit-checkpoint-every-minute"]
    assert entry == BEAT["audit-checkpoint-every-minute"]
    assert (entry["task"], entry["schedule"]) == ("backend.audit.tasks.checkpoint", 60.0)


@pytest.mark.celery
def test_crossing_a_thousand_records_gets_a_checkpoint_from_a_worker(committing_app):
    committing_app.config["BROKER_URL"] = REDIS
    committing_app.config["RESULT_BACKEND"] = REDIS
    celery = celery_init_app(committing_app)
    queue = private_queue(celery, "audit-test")  # not shared with anyone's worker
    db = database()
    with start_worker(celery, pool="solo", perform_ping_check=False, queues=[queue],
                      shutdown_timeout=10):
        with db.transaction() as sess:
            for n in range(EVERY_RECORDS - 1):
                record(sess, action="test.bulk", subject_id=str(n))
        time.sleep(1)
        assert _checkpoint_sizes(db) == []  # 999 records: no threshold crossed yet
        with db.transaction() as sess:
            record(sess, action="test.bulk", subject_id="the thousandth")
        deadline = time.monotonic() + 30
        while not _checkpoint_sizes(db) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert _checkpoint_sizes(db) == [EVERY_RECORDS]


def _checkpoint_sizes(db):
    with db.engine.connect() as conn:
        return list(conn.execute(select(AuditCheckpoint.size)).scalars())

