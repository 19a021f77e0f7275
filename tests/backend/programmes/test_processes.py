"""Every process of one hub sees a change: two hubs on one PostgreSQL database stand for
two gunicorn workers, and a real Celery worker allocates with the changed amount."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import select, text

from backend.app import create_app
from backend.db import make_engine, session
from backend.ledger.models import Grant
from backend.programmes import settings
from backend.services.catalogue import live, modules
from backend.testing.identity import make_staff
from tests.backend.programmes.conftest import ADMIN, bearer

pytestmark = pytest.mark.postgres
SECRET = "programme-test-secret-key-0123456789"


@pytest.fixture
def hubs(fresh_pg_url, instance_dir):
    """Two hubs on one fresh database: `one` checks for changes as a hub does by default,
    `other` on every request (so what it sees does not depend on the clock)."""
    common = {"DATABASE_URL": fresh_pg_url, "INSTANCE_DIR": str(instance_dir),
              "SECRET_KEY": SECRET}
    one = create_app(**common)
    other = create_app(**common, PROGRAMME_REFRESH_MS=0)
    yield one, other
    for hub in (one, other):
        hub.extensions["satukartu.db"].engine.dispose()


def food_in(hub):
    with hub.app_context():
        return modules().get("food")


def test_a_programme_disabled_through_one_hub_is_gone_from_the_other(hubs):
    one, other = hubs
    assert food_in(other) is not None
    with one.app_context():
        token = make_staff(one, "admin").token
    answer = one.test_client().patch("/api/v1/programmes/food", json={"enabled": False},
                                     headers=bearer(token))
    assert answer.status_code == 200, answer.json
    assert food_in(other) is None
    assert food_in(one) is None  # the hub that changed it: at once


def test_an_approved_amount_reaches_the_other_hub(hubs):
    one, other = hubs
    assert food_in(other).config["monthly_amount"] == 200_000
    with one.app_context():
        settings.apply_change(session(), "food", enabled=None, approval_id=41,
                              parameters={"monthly_amount": "250000"}, principal=ADMIN)
        session().commit()
    assert food_in(other).config["monthly_amount"] == 250_000


def test_a_hub_trusts_its_programmes_for_the_refresh_interval(fresh_pg_url, instance_dir):
    """No read per request: within SATUKARTU_PROGRAMME_REFRESH_MS a hub uses what it has."""
    common = {"DATABASE_URL": fresh_pg_url, "INSTANCE_DIR": str(instance_dir),
              "SECRET_KEY": SECRET}
    one, patient = create_app(**common), create_app(**common, PROGRAMME_REFRESH_MS=3_600_000)
    try:
        assert food_in(patient) is not None  # checked once, now trusted for an hour
        with one.app_context():
            settings.apply_change(session(), "food", enabled=False, parameters={},
                                  principal=ADMIN)
            session().commit()
        assert food_in(patient) is not None
        with patient.app_context():
            live().expire()  # the hour has passed
        assert food_in(patient) is None
    finally:
        for hub in (one, patient):
            hub.extensions["satukartu.db"].engine.dispose()


BROKER = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.mark.celery
@pytest.mark.slow
def test_a_celery_worker_allocates_with_the_amount_changed_while_it_ran(fresh_pg_url,
                                                                        instance_dir,
                                                                        tmp_path):
    from backend.ledger.tasks import allocate_task
    from backend.tasks import celery_init_app
    from backend.testing.services import synth_households_pg

    settings_env = {"DATABASE_URL": fresh_pg_url, "BROKER_URL": BROKER,
                    "RESULT_BACKEND": "redis://127.0.0.1:6379/0",
                    "INSTANCE_DIR": str(instance_dir), "SECRET_KEY": SECRET,
                    "PROGRAMME_REFRESH_MS": "0", "LOG_LEVEL": "INFO"}
    engine = make_engine(fresh_pg_url)
    with engine.begin() as conn:
        synth_households_pg(conn, 20, deciles=10)  # deciles 1..4 get food: 8 households
    hub = create_app(**{k: v for k, v in settings_env.items() if k != "PROGRAMME_REFRESH_MS"})
    queue = f"programmes-test-{uuid.uuid4().hex[:8]}"
    celery_init_app(hub)
    log_path = tmp_path / "worker.log"
    worker = start_worker(settings_env, queue, log_path)
    try:
        allocate_task.apply_async(("food", "groceries", "2026-01"), queue=queue)
        wait_for(lambda: amounts(engine, "2026-01"), log_path, "the first allocation")
        with hub.app_context():
            settings.apply_change(session(), "food", enabled=None, approval_id=41,
                                  parameters={"monthly_amount": "250000"}, principal=ADMIN)
            session().commit()
        allocate_task.apply_async(("food", "groceries", "2026-02"), queue=queue)
        wait_for(lambda: amounts(engine, "2026-02"), log_path, "the second allocation")
        assert amounts(engine, "2026-01") == {200_000: 8}
        assert amounts(engine, "2026-02") == {250_000: 8}
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, 9)
        worker.wait(timeout=30)
        engine.dispose()
        hub.extensions["satukartu.db"].engine.dispose()


def start_worker(settings_env, queue, log_path):
    env = {**os.environ, **{f"SATUKARTU_{k}": v for k, v in settings_env.items()}}
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "backend.worker", "worker", "--pool",
             "solo", "--queues", queue, "--loglevel", "INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--hostname",
             f"w{uuid.uuid4().hex}@t"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def amounts(engine, period):
    """{amount: grants} of food's allocation for `period`, once its run has finished."""
    with engine.connect() as conn:
        finished = conn.execute(text(
            "SELECT finished_at FROM ledger_allocation_runs WHERE programme = 'food' AND "
            "period = :period"), {"period": period}).scalar()
        if finished is None:
            return {}
        rows = conn.execute(select(Grant.amount).where(Grant.programme == "food",
                                                       Grant.period == period)).scalars()
        found: dict[int, int] = {}
        for amount in rows:
            found[amount] = found.get(amount, 0) + 1
        return found


def wait_for(condition, log_path, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{log_path.read_text()[-3000:]}")
