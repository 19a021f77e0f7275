"""Monthly allocation over a city of N households on PostgreSQL, and its no-op re-run.

    .venv/bin/python bench/bench_allocation.py [--households 1000000] [--batch 50000]
        [--programme food] [--keep]

Makes a fresh migrated PostgreSQL database, fills it with N one-person households in
the lowest deciles (every one a beneficiary) in three set-based statements, then runs
the programme's allocation for one month through `backend.ledger.allocation.allocate`
(the code the Celery task and the CLI run), times it, re-runs it (every grant already
exists: a no-op), allocates the next month (food credit does not carry over, so last
month's lapses first, as journal entries), and runs `ledger check`'s queries. Prints
wall time and CPU time (database backends, this process) per phase, and the size.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from proc_cpu import cpu_seconds
from sqlalchemy import event, text

from backend import migrations
from backend.app import create_app
from backend.db import database
from backend.ledger import checks
from backend.ledger.allocation import allocate
from backend.services import Period
from backend.services.catalogue import modules
from backend.testing import databases
from backend.testing.services import synth_households_pg

BACKENDS: set[int] = set()


def backend_cpu() -> float:
    """CPU seconds used so far by the database backends serving this process."""
    return cpu_seconds(BACKENDS)


def timed(label: str, action):  # type: ignore[no-untyped-def]
    """Run `action`; print wall time, and CPU time of the database and of this process
    (on a shared machine the CPU figures say what the work costs, the wall time what
    it took here and now)."""
    db_before, own_before = backend_cpu(), time.process_time()
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    print(f"{label:<34} wall {elapsed:7.2f} s   database cpu {backend_cpu() - db_before:7.2f} s"
          f"   hub cpu {time.process_time() - own_before:6.2f} s", flush=True)
    return result, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--programme", default="food")
    parser.add_argument("--period", default="2026-05")
    parser.add_argument("--next-period", default="2026-06")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()

    name = databases.unique_name("sk_bench_alloc")
    url = databases.create_pg_database(name)
    print(f"database {name}; {args.households} households; batch {args.batch}; "
          f"{os.cpu_count()} cores")
    try:
        timed("migrate", lambda: migrations.upgrade(url))
        with tempfile.TemporaryDirectory() as instance:
            app = create_app(DATABASE_URL=url, INSTANCE_DIR=instance, SECRET_KEY="bench" * 8,
                             LOG_LEVEL="WARNING")
            with app.app_context():
                run(args)
    finally:
        if not args.keep:
            databases.drop_pg_database(name)


def _note_backend(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        BACKENDS.add(cursor.fetchone()[0])


def run(args: argparse.Namespace) -> None:
    db = database()
    event.listen(db.engine, "connect", _note_backend)
    db.engine.dispose()
    with db.engine.begin() as conn:
        timed("registry: households (SQL)", lambda: synth_households_pg(
            conn, args.households, deciles=4))
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    module = modules()[args.programme]
    allocation = module.allocations[0]
    period = Period.parse(args.period)
    done, seconds = timed(f"allocate {args.programme} {period.key}", lambda: allocate(
        db, module, allocation, period, batch=args.batch))
    print(f"  {done.granted} grants, {done.amount} granted, {done.batches} batches, "
          f"{done.granted / seconds:,.0f} beneficiaries/s")
    again, _ = timed("re-run (rescan, all granted)", lambda: allocate(
        db, module, allocation, period, batch=args.batch, rescan=True))
    print(f"  {again.granted} new grants")
    next_month = Period.parse(args.next_period)
    later, seconds = timed(f"allocate {next_month.key} (+ lapse)", lambda: allocate(
        db, module, allocation, next_month, batch=args.batch))
    print(f"  {later.granted} grants, the previous month's credit lapsed first, "
          f"{later.granted / seconds:,.0f} beneficiaries/s")
    with db.transaction() as sess:
        found, _ = timed("ledger check", lambda: checks.findings(sess))
        size = sess.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))"
                                 )).scalar()
    print(f"  intact: {not any(found.values())}; database size {size}")


if __name__ == "__main__":
    main()
