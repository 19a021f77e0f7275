"""A Celery worker killed with SIGKILL mid-allocation: each beneficiary still gets one grant.

Real parts: RabbitMQ at localhost, `celery -A backend.worker worker` processes, a fresh
PostgreSQL database. The allocation is asked for through the API (the task is sent
after that request commits); the first worker is killed while batches are landing,
RabbitMQ hands the unacknowledged task to a second worker, which resumes after the
last committed batch; then the task is sent once more and grants nothing.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select, text

from backend.app import create_app
from backend.db import make_engine
from backend.ledger import checks
from backend.ledger.models import AllocationRun, Grant
from backend.ledger.tasks import BEAT, allocate_task
from backend.services import Allocation, Period
from backend.tasks import celery_init_app
from backend.testing.identity import make_staff
from backend.testing.services import synth_households_pg
from tests.support.task_queue import private_queue

pytestmark = [pytest.mark.celery, pytest.mark.postgres, pytest.mark.slow]

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
HOUSEHOLDS, BATCH = 60_000, 200
ELIGIBLE = HOUSEHOLDS * 4 // 10  # deciles cycle 1..10; food takes 1..4
PERIOD = "2026-04"


@pytest.fixture
def city(fresh_pg_url, instance_dir):
    """Settings shared by this test's hub and its workers, on a fresh database."""
    engine = make_engine(fresh_pg_url)
    with engine.begin() as conn:
        synth_households_pg(conn, HOUSEHOLDS, deciles=10)
    yield {"DATABASE_URL": fresh_pg_url, "BROKER_URL": BROKER,
           "RESULT_BACKEND": "redis://127.0.0.1:6379/0", "INSTANCE_DIR": str(instance_dir),
           "SECRET_KEY": "celery-test-secret-key-0123456789", "ALLOCATION_BATCH": str(BATCH),
           "LOG_LEVEL": "INFO"}
    engine.dispose()


class Worker:
    """A `celery worker` process of our own, on a queue no one else consumes."""

    def __init__(self, settings, queue, log_path):
        env = {**os.environ, **{f"SATUKARTU_{k}": v for k, v in settings.items()}}
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = self._start(env, queue, log)

    @staticmethod
    def _start(env, queue, log):
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "backend.worker", "worker", "--pool",
             "solo", "--queues", queue, "--loglevel", "INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--hostname", f"w{uuid.uuid4().hex}@t"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)


def wait_for(condition, timeout=180, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_worker_leaves_each_beneficiary_exactly_one_grant(city, tmp_path):
    hub = create_app(**city)
    celery = celery_init_app(hub)
    queue = private_queue(celery, "ledger-test")  # not shared with anyone's worker
    engine = make_engine(city["DATABASE_URL"])
    workers = []
    try:
        admin = make_staff(hub, "admin").token
        asked = hub.test_client().post("/api/v1/ledger/allocations", json={
            "programme": "food", "period": PERIOD}, headers={"Authorization": f"Bearer {admin}"})
        assert asked.status_code == 202, asked.json
        workers.append(Worker(city, queue, tmp_path / "first.log"))
        wait_for(lambda: 10 * BATCH <= progress(engine)[0] < HOUSEHOLDS - 10 * BATCH,
                 what="the first worker to be mid-allocation")
        workers[0].kill()
        granted_when_killed = grants(engine)
        assert 0 < granted_when_killed < ELIGIBLE

        workers.append(Worker(city, queue, tmp_path / "second.log"))
        wait_for(lambda: progress(engine)[1] is not None, what="the redelivered task to finish")
        assert grants(engine) == ELIGIBLE
        assert duplicates(engine) == 0

        allocate_task.apply_async(("food", "groceries", PERIOD), queue=queue)
        wait_for(lambda: workers[1].log().count("allocated food/groceries") >= 2,
                 what="the task sent again")
        assert grants(engine) == ELIGIBLE
        with engine.connect() as conn:
            balances = conn.execute(text(
                "SELECT DISTINCT balance FROM ledger_accounts WHERE owner_type = 'household'"
            )).scalars().all()
            assert balances == [200_000]
        with hub.app_context():
            from backend.db import database

            with database().transaction() as sess:
                assert not any(checks.findings(sess).values())
    finally:
        for worker in workers:
            worker.kill()
        engine.dispose()
        hub.extensions["satukartu.db"].engine.dispose()


def progress(engine):
    with engine.connect() as conn:
        row = conn.execute(select(AllocationRun.last_id, AllocationRun.finished_at).where(
            AllocationRun.programme == "food", AllocationRun.period == PERIOD)).first()
    return (row.last_id, row.finished_at) if row else (0, None)


def grants(engine):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Grant).where(
            Grant.programme == "food", Grant.period == PERIOD)).scalar()


def duplicates(engine):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM (SELECT beneficiary_ref FROM ledger_grants GROUP BY "
            "programme, period, beneficiary_ref HAVING count(*) > 1) d")).scalar()


def test_beat_runs_each_cadence_and_the_daily_expiry():
    tasks = {(entry["task"], entry.get("args", ())) for entry in BEAT.values()}
    assert tasks == {("ledger.allocate_due", ("monthly",)), ("ledger.allocate_due",
                     ("quarterly",)), ("ledger.allocate_due", ("semester",)),
                     ("ledger.expire_due", ())}


def test_a_quarterly_transfer_in_arrears_pays_the_quarter_just_ended():
    arrears = Allocation("cash", "quarterly", lambda *a: None, in_arrears=True)
    assert arrears.due_period(date(2026, 4, 1)) == Period.parse("2026-Q1")
    assert arrears.due_period(date(2026, 1, 1)) == Period.parse("2025-Q4")
