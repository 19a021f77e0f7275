"""A Celery worker SIGKILLed three times in the middle of a monthly allocation to
100,000 households, then left to finish.

The allocation task is late-acknowledged and rejected back to the queue when its
worker dies; the allocation resumes after its last committed batch. The first kill
takes only the pool process running the task (the worker requeues it), the next two
the whole worker at once (the broker requeues it when the connection drops, and a new
worker takes it). Each kill waits until the worker is inside a batch's transaction.
Afterwards: every household has exactly one grant, every grant one journal line and
one credit, and the ledger sums to zero.
"""

from __future__ import annotations

import time
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

HOUSEHOLDS = 100_000
BATCH = 5_000
MONTHLY = 200_000  # the food programme's monthly credit per household
PERIOD = "2026-03"
KILLS = (("pool process", 15_000), ("whole worker", 45_000), ("whole worker", 75_000))

_RUN = text("SELECT last_id, finished_at FROM ledger_allocation_runs "
            "WHERE programme = 'food' AND period = :period")
_IN_TRANSACTION = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")


class Progress:
    """Reads the allocation's progress row and who is inside a transaction."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def run(self) -> tuple[int, bool]:
        with self.engine.connect() as conn:
            row = conn.execute(_RUN, {"period": PERIOD}).first()
        return (0, False) if row is None else (int(row.last_id), row.finished_at is not None)

    def worker_in_transaction(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(_IN_TRANSACTION).scalar_one() > 0

    def close(self) -> None:
        self.engine.dispose()


def _city(url: str) -> None:
    """100,000 one-person households in deciles 1-4: every one a food beneficiary."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            synth_households_pg(conn, HOUSEHOLDS, deciles=4)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    finally:
        engine.dispose()


def _kill_inside_a_batch(worker: Worker, how: str, progress: Progress, past: int) -> int:
    wait_until(lambda: progress.run()[0] >= past, 120, f"the allocation to pass id {past}",
               0.05)
    wait_until(progress.worker_in_transaction, 30, "the worker inside a transaction", 0.01)
    if how == "pool process":
        worker.kill_pool_process()
    else:
        worker.kill()
    return progress.run()[0]


def _totals(url: str) -> dict[str, object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            grants = conn.execute(text(
                "SELECT count(*), count(DISTINCT beneficiary_ref), coalesce(sum(amount), 0) "
                "FROM ledger_grants WHERE programme = 'food' AND period = :p"),
                {"p": PERIOD}).one()
            without = conn.execute(text(
                "SELECT count(*) FROM households h WHERE NOT EXISTS (SELECT 1 FROM "
                "ledger_grants g WHERE g.programme = 'food' AND g.period = :p "
                "AND g.beneficiary_ref = CAST(h.id AS text))"), {"p": PERIOD}).scalar_one()
            credits = conn.execute(text(
                "SELECT count(*), count(DISTINCT l.account_id) FROM journal_lines l "
                "JOIN journal_entries e ON e.id = l.entry_id WHERE e.kind = 'grant' "
                "AND e.programme = 'food' AND e.period = :p AND l.amount > 0"),
                {"p": PERIOD}).one()
            balances = conn.execute(text(
                "SELECT count(*), min(balance), max(balance) FROM ledger_accounts "
                "WHERE programme = 'food' AND owner_type = 'household'")).one()
            funding = conn.execute(text(
                "SELECT balance FROM ledger_accounts WHERE programme = 'food' "
                "AND owner_type = 'programme' AND owner_ref = 'funding'")).scalar_one()
    finally:
        engine.dispose()
    return {"grants": tuple(grants), "households_without_grant": without,
            "credit_lines": tuple(credits), "household_balances": tuple(balances),
            "funding": funding}


@pytest.mark.timeout(300)
def test_an_allocation_survives_three_sigkills_with_no_grant_lost_or_doubled(
        fresh_pg_url, private_rabbitmq, tmp_path: Path):
    _city(fresh_pg_url)
    settings = hub_settings(fresh_pg_url, private_rabbitmq.url, tmp_path / "instance",
                            ALLOCATION_BATCH=str(BATCH))
    queue = f"allocations-{uuid.uuid4().hex[:8]}"
    progress = Progress(fresh_pg_url)
    workers = [Worker(settings, queue, tmp_path / "worker-0.log").start()]
    killed_at = []
    try:
        producer(settings).send_task("ledger.allocate", args=("food", "groceries", PERIOD),
                                     queue=queue)
        for n, (how, past) in enumerate(KILLS, start=1):
            killed_at.append(_kill_inside_a_batch(workers[-1], how, progress, past))
            if how == "whole worker":
                workers.append(Worker(settings, queue, tmp_path / f"worker-{n}.log").start())
        started = time.monotonic()
        wait_until(lambda: progress.run()[1], 180, "the allocation to finish", 0.2)
        finished_after = time.monotonic() - started
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{workers[-1].log_tail()}") from exc
    finally:
        for worker in workers:
            worker.stop()
        progress.close()

    # Each kill came later in the id range, before the end: three different points.
    assert killed_at == sorted(set(killed_at)) and killed_at[-1] < HOUSEHOLDS, killed_at
    assert _totals(fresh_pg_url) == {
        "grants": (HOUSEHOLDS, HOUSEHOLDS, HOUSEHOLDS * MONTHLY),
        "households_without_grant": 0,
        "credit_lines": (HOUSEHOLDS, HOUSEHOLDS),
        "household_balances": (HOUSEHOLDS, MONTHLY, MONTHLY),
        "funding": -HOUSEHOLDS * MONTHLY,
    }
    assert ledger_problems(fresh_pg_url) == {}
    print(f"killed at ids {killed_at}; finished {finished_after:.1f} s after the last kill")
