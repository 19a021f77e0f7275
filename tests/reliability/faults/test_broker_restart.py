"""The broker (a private Redis, a private RabbitMQ) SIGKILLed and restarted while tasks
are queued: no task lost once the broker accepted it.

The tasks are the hub's own allocation tasks, one per month, on a small city: each
leaves a finished progress row and its grants in the database, so what ran can be
counted. A send is "accepted" when `apply_async` returned without an error; sends
tried while the broker is down must fail loudly, not vanish.

Both brokers keep every queued task through a SIGKILL (Redis: append-only file
fsynced per write; RabbitMQ: durable queues, persistent messages, publisher confirms).
RabbitMQ also loses nothing when killed while a worker drains its queue. Redis cannot
promise that: kombu's Redis transport takes a message with BRPOP and records it as
unacknowledged in a second round trip, so a crash between the two loses that one
message (RELIABILITY.md, Faults).
"""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from backend.db import make_engine
from backend.testing.services import synth_households_pg
from tests.reliability.faults.invariants import ledger_problems
from tests.reliability.faults.workers import Worker, hub_settings, producer
from tests.support.private_services import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.celery,
              pytest.mark.xdist_group("private-rabbitmq")]  # one node per run

HOUSEHOLDS = 3
QUEUED = 40
SENT_TO_WORKER = 40
SENT_AFTER_RESTART = 10
DONE_BEFORE_KILL = 15
NO_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
            "interval_max": 0.2}


def months(first: int, count: int) -> list[str]:
    return [f"{2000 + n // 12}-{n % 12 + 1:02d}" for n in range(first, first + count)]


class Runs:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def finished(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(text(
                "SELECT period FROM ledger_allocation_runs WHERE programme = 'food' "
                "AND finished_at IS NOT NULL")).scalars())

    def grants_per_period(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(text(
                "SELECT period, count(*) FROM ledger_grants WHERE programme = 'food' "
                "GROUP BY period")).all())

    def close(self) -> None:
        self.engine.dispose()


class Sender:
    """Sends one allocation task per month and remembers which sends were accepted."""

    def __init__(self, settings: dict[str, str], queue: str) -> None:
        self.celery = producer(settings)
        self.queue = queue
        self.accepted: list[str] = []
        self.refused: list[str] = []

    def send(self, periods: list[str], retry_policy: dict | None = None) -> None:
        task = self.celery.tasks["ledger.allocate"]
        for period in periods:
            try:
                task.apply_async(args=("food", "groceries", period), queue=self.queue,
                                 retry_policy=retry_policy)
            except Exception:  # any failure means "not accepted"
                self.refused.append(period)
            else:
                self.accepted.append(period)


def _small_city(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            synth_households_pg(conn, HOUSEHOLDS, deciles=1)
    finally:
        engine.dispose()


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request):
    """A private broker this test may kill: Redis (append-only file, fsync per write)
    or RabbitMQ (durable queues, persistent messages)."""
    return request.getfixturevalue(f"private_{request.param}")


def _wait_for_all(sender: Sender, runs: Runs, worker: Worker) -> set[str]:
    wanted = set(sender.accepted)
    try:
        wait_until(lambda: wanted <= runs.finished(), 150, "every accepted task to run",
                   0.25)
    except TimeoutError as exc:
        lost = sorted(wanted - runs.finished())
        raise AssertionError(f"{exc}: {len(lost)} accepted tasks never ran: {lost[:20]}\n"
                             f"{worker.log_tail()}") from exc
    return wanted


def _exactly_once_per_period(url: str, runs: Runs, wanted: set[str]) -> None:
    grants = runs.grants_per_period()
    assert {period: grants.get(period) for period in wanted} == {
        period: HOUSEHOLDS for period in wanted}
    assert ledger_problems(url) == {}


@pytest.mark.timeout(240)
def test_tasks_queued_when_the_broker_is_killed_all_run(broker, fresh_pg_url,
                                                        tmp_path: Path):
    _small_city(fresh_pg_url)
    settings = hub_settings(fresh_pg_url, broker.url, tmp_path / "instance")
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    sender = Sender(settings, queue)
    runs = Runs(fresh_pg_url)
    worker = Worker(settings, queue, tmp_path / "worker.log")
    try:
        sender.send(months(0, QUEUED))  # no worker yet: all of them wait in the queue
        broker.stop(signal.SIGKILL)
        sender.send(months(200, 3), retry_policy=NO_RETRY)  # the broker is down
        broker.start()
        worker.start()
        wanted = _wait_for_all(sender, runs, worker)
    finally:
        worker.stop()
    try:
        assert sorted(sender.accepted) == months(0, QUEUED)
        assert sender.refused == months(200, 3)
        _exactly_once_per_period(fresh_pg_url, runs, wanted)
    finally:
        runs.close()
    print(f"{type(broker).__name__}: {len(wanted)} queued tasks all ran after a SIGKILL, "
          f"{len(sender.refused)} sends refused while it was down")


@pytest.mark.timeout(240)
def test_a_rabbitmq_node_killed_while_a_worker_drains_its_queue_loses_no_task(
        private_rabbitmq, fresh_pg_url, tmp_path: Path):
    _small_city(fresh_pg_url)
    settings = hub_settings(fresh_pg_url, private_rabbitmq.url, tmp_path / "instance")
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    sender = Sender(settings, queue)
    runs = Runs(fresh_pg_url)
    worker = Worker(settings, queue, tmp_path / "worker.log").start()
    try:
        sender.send(months(0, SENT_TO_WORKER))
        wait_until(lambda: len(runs.finished()) >= DONE_BEFORE_KILL, 120,
                   f"{DONE_BEFORE_KILL} tasks done", 0.05)
        private_rabbitmq.restart(signal.SIGKILL)  # one task running, the rest queued
        sender.send(months(SENT_TO_WORKER, SENT_AFTER_RESTART))
        wanted = _wait_for_all(sender, runs, worker)
    finally:
        worker.stop()
    try:
        assert len(wanted) == SENT_TO_WORKER + SENT_AFTER_RESTART
        _exactly_once_per_period(fresh_pg_url, runs, wanted)
    finally:
        runs.close()
    print(f"RabbitMQ killed mid-drain: {len(wanted)} accepted tasks all ran")
