"""A period's allocation split by district: the same ledger as the whole run, each part
resumable on its own, shared by real Celery workers on RabbitMQ.

Real parts: fresh PostgreSQL databases with synthetic households spread over the
city's 31 districts (`synth_households_pg`), `celery -A backend.worker` processes on
a queue of the test's own.
"""

import threading
import uuid

import pytest
from sqlalchemy import text

from backend.app import create_app
from backend.db import database, make_engine
from backend.ledger import checks
from backend.ledger.allocation import allocate, allocate_part
from backend.ledger.parts import Part
from backend.ledger.split import allocate_split, plan, progress
from backend.ledger.tasks import allocate_split_task
from backend.services import Period
from backend.services.catalogue import modules
from backend.tasks import celery_init_app
from backend.testing.services import synth_households_pg
from tests.reliability.faults.workers import Worker
from tests.support.private_services import wait_until

pytestmark = [pytest.mark.postgres]

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
HOUSEHOLDS, BATCH = 3_100, 40  # 100 a district (ids cycle through them), three batches each
WORKER_HOUSEHOLDS = 31_000  # enough batches to kill a worker in the middle
MAY, JUNE = Period.parse("2026-05"), Period.parse("2026-06")


def city(url, instance, households=HOUSEHOLDS, **extra):
    engine = make_engine(url)
    with engine.begin() as conn:
        synth_households_pg(conn, households, deciles=6)  # food takes deciles 1..4
    engine.dispose()
    return create_app(DATABASE_URL=url, INSTANCE_DIR=str(instance),
                      SECRET_KEY="split-test-secret-key-0123456789",
                      ALLOCATION_BATCH=str(BATCH), **extra)


@pytest.fixture
def hub(fresh_pg_url, instance_dir):
    app = city(fresh_pg_url, instance_dir)
    with app.app_context():
        yield app
    app.extensions["satukartu.db"].engine.dispose()


def food():
    module = modules()["food"]
    return module, module.allocations[0]


def ledger_rows():
    """What a run leaves, free of entry ids and batch grouping (which differ by design):
    grants, balances, each beneficiary's lines, and each kind's totals. The funding
    account's lines are one per batch, so their number differs; its balance does not."""
    with database().transaction() as sess:
        return [sess.execute(text(sql)).all() for sql in (
            "SELECT period, beneficiary_ref, citizen_id, amount FROM ledger_grants "
            "ORDER BY 1, 2",
            "SELECT owner_type, owner_ref, balance, expires_on FROM ledger_accounts "
            "ORDER BY 1, 2",
            "SELECT a.owner_type, a.owner_ref, e.kind, e.period, l.amount, l.balance_after "
            "FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id "
            "JOIN journal_entries e ON e.id = l.entry_id "
            "WHERE a.owner_type IN ('household', 'citizen') ORDER BY 1, 2, 4, 3, 5, 6",
            "SELECT kind, period, sum(amount) FROM journal_entries GROUP BY 1, 2 ORDER BY 1, 2")]


def eligible(district=""):
    with database().transaction() as sess:
        return sess.execute(text(
            "SELECT count(*) FROM households WHERE welfare_decile <= 4 "
            "AND region_code LIKE :district || '%'"), {"district": district}).scalar_one()


def granted():
    """(grants, distinct beneficiaries granted)"""
    with database().transaction() as sess:
        return tuple(sess.execute(text("SELECT count(*), count(DISTINCT beneficiary_ref) "
                                       "FROM ledger_grants")).one())


def intact():
    with database().transaction() as sess:
        return not any(checks.findings(sess).values())


def test_split_months_leave_the_ledger_the_whole_run_leaves(hub, pg_template, tmp_path):
    module, allocation = food()
    for month in (MAY, JUNE):  # June lapses May's credit first
        allocate_split(database(), module, allocation, month, batch=BATCH)
    split = ledger_rows()
    from backend.testing import databases

    name = databases.unique_name("sk_whole")
    other = city(databases.create_pg_database(name, template=pg_template[0]),
                 tmp_path / "whole")
    try:
        with other.app_context():
            for month in (MAY, JUNE):
                allocate(database(), module, allocation, month, batch=BATCH)
            whole = ledger_rows()
        assert split == whole
        assert len(split[0]) == 2 * eligible()  # two months of grants
        assert intact()
    finally:
        other.extensions["satukartu.db"].engine.dispose()
        databases.drop_pg_database(name)


def test_the_city_splits_into_its_31_districts(hub):
    module, allocation = food()
    parts = plan(database(), module, allocation, MAY, batch=BATCH)
    assert len(parts) == 31 and parts[0] == Part("357801")


def test_a_part_run_again_writes_nothing(hub):
    module, allocation = food()
    part = plan(database(), module, allocation, MAY, batch=BATCH)[0]
    first = allocate_part(database(), module, allocation, MAY, part, batch=BATCH)
    before = ledger_rows()
    again = allocate_part(database(), module, allocation, MAY, part, batch=BATCH)
    assert first.granted > 0 and again.granted == 0 and again.batches == 0
    assert ledger_rows() == before


def test_a_part_stopped_mid_way_resumes_after_its_last_batch(hub):
    module, allocation = food()
    part = plan(database(), module, allocation, MAY, batch=BATCH)[0]

    def stop_after_first(_granted, _last):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        allocate_part(database(), module, allocation, MAY, part, batch=BATCH,
                      after_batch=stop_after_first)
    after_stop = granted()[0]
    rest = allocate_part(database(), module, allocation, MAY, part, batch=BATCH)
    assert rest.batches == 2  # the first batch was committed and is not walked again
    assert 0 < after_stop < after_stop + rest.granted == granted()[0] == eligible("357801")
    assert intact()


def test_two_runners_of_one_part_grant_each_household_once(hub):
    module, allocation = food()
    part = plan(database(), module, allocation, MAY, batch=BATCH)[0]
    outcomes = []

    def run():
        with hub.app_context():
            outcomes.append(allocate_part(database(), module, allocation, MAY, part,
                                          batch=BATCH))

    runners = [threading.Thread(target=run) for _ in range(2)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(120)
    assert len(outcomes) == 2
    assert sum(o.granted for o in outcomes) == granted()[0] == granted()[1] == eligible("357801")
    assert intact()


@pytest.fixture
def workers_city(fresh_pg_url, instance_dir, tmp_path):
    """The hub's producer and settings for workers on a queue only this test consumes."""
    settings = {"DATABASE_URL": fresh_pg_url, "BROKER_URL": BROKER,
                "RESULT_BACKEND": "redis://127.0.0.1:6379/0", "INSTANCE_DIR": str(instance_dir),
                "SECRET_KEY": "split-test-secret-key-0123456789",
                "ALLOCATION_BATCH": str(BATCH)}
    app = city(fresh_pg_url, instance_dir, WORKER_HOUSEHOLDS, BROKER_URL=BROKER,
               RESULT_BACKEND="redis://127.0.0.1:6379/0")
    queue = f"ledger-split-{uuid.uuid4().hex[:8]}"
    started = []

    def worker(name):
        started.append(Worker(settings, queue, tmp_path / f"{name}.log").start())
        return started[-1]

    try:
        with app.app_context():
            yield app, celery_init_app(app), queue, worker
    finally:
        for each in started:
            each.kill()
        app.extensions["satukartu.db"].engine.dispose()


def period_progress():
    with database().transaction() as sess:
        return progress(sess, "food", "groceries", MAY.key)


@pytest.mark.celery
@pytest.mark.slow
def test_two_workers_share_a_split_period_and_the_last_part_says_it_is_complete(
        workers_city):
    _app, _celery, queue, worker = workers_city
    first, second = worker("first"), worker("second")
    first.wait_ready()
    second.wait_ready()
    allocate_split_task.apply_async(("food", "groceries", MAY.key), queue=queue)
    wait_until(lambda: period_progress().complete, 300, "every part to finish")
    logs = [w.log.read_text(errors="replace") for w in (first, second)]
    assert all("allocated food/groceries 2026-05 part" in log for log in logs)  # both took parts
    assert "2026-05 complete: 31 parts" in "".join(logs)
    assert period_progress().granted == granted()[0] == granted()[1] == eligible()
    assert intact()


@pytest.mark.celery
@pytest.mark.slow
def test_a_part_whose_worker_is_killed_is_resumed_by_another(workers_city):
    _app, _celery, queue, worker = workers_city
    doomed = worker("doomed")
    allocate_split_task.apply_async(("food", "groceries", MAY.key), queue=queue)
    wait_until(lambda: period_progress().granted > 0, 120, "the first grants")
    doomed.kill()
    assert not period_progress().complete
    worker("heir")
    wait_until(lambda: period_progress().complete, 300, "every part to finish")
    assert granted()[0] == granted()[1] == eligible()
    assert intact()
