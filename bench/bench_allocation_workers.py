"""A monthly allocation split by district across real Celery workers: 1 worker, then 2.

    .venv/bin/python bench/bench_allocation_workers.py [--households 1000000]
        [--workers 1,2] [--batch 50000] [--months 2026-05,2026-06] [--keep]

Makes one migrated PostgreSQL database of N one-person households in deciles 1-4
(every one a food beneficiary), spread over the city's 31 districts as the synthetic
registry spreads them, and copies it (CREATE DATABASE ... TEMPLATE) for each worker
count, so every run starts from the same fresh data. For each count it starts that
many `celery -A backend.worker worker --concurrency 1` processes on a RabbitMQ queue
of its own, sends `ledger.allocate_split` for each month in turn (the second month
lapses the first's credit before granting, as a real month does) and waits until
every district part has finished. Prints per month: wall time; CPU of each worker
(main and pool process) and of the database backends that served them, from /proc;
and their sum over the wall time, i.e. how many cores the run kept busy. On a
2-core machine PostgreSQL and the workers share the same cores: a second worker
can only buy what one worker leaves idle (its own Python time, commit waits), which
is what the cores-busy figure shows. At the end: the speedup per month, and whether
both runs left the same grants and balances.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from proc_cpu import backend_pids, children, cpu_seconds
from sqlalchemy import text

from backend import migrations
from backend.app import create_app
from backend.db import make_engine
from backend.ledger.split import progress
from backend.tasks import celery_init_app
from backend.testing import databases
from backend.testing.services import synth_households_pg

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
CELERY = str(Path(sys.executable).parent / "celery")
SECRET = "bench-allocation-workers-secret-0123456789"


def start_worker(settings: dict[str, str], queue: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **{f"SATUKARTU_{k}": v for k, v in settings.items()}}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [CELERY, "-A", "backend.worker", "worker", "--concurrency", "1", "--pool",
             "prefork", "--queues", queue, "--loglevel", "INFO", "--without-gossip",
             "--without-mingle", "--hostname", f"bench-{uuid.uuid4().hex[:8]}@%h"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(worker: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)


def worker_cpu(worker: subprocess.Popen[bytes]) -> float:
    return cpu_seconds([worker.pid, *children(worker.pid)])


def run_month(app, celery, queue, name, month, workers) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Send one month's split allocation and wait for it; wall and CPU figures."""
    conninfo = databases.pg_url_for(name)
    seen: dict[int, float] = {}  # backend pid -> CPU at first sight, then latest
    first: dict[int, float] = {}
    own_before = [worker_cpu(w) for w in workers]
    started = time.perf_counter()
    celery.send_task("ledger.allocate_split", ("food", "groceries", month), queue=queue)
    from backend.db import database

    while True:
        for pid in backend_pids(conninfo, name):
            cpu = cpu_seconds([pid])
            first.setdefault(pid, cpu)
            seen[pid] = cpu
        with app.app_context(), database().transaction() as sess:
            now = progress(sess, "food", "groceries", month)
        if now.complete:
            break
        time.sleep(0.5)
    wall = time.perf_counter() - started
    for pid in list(seen):
        latest = cpu_seconds([pid])
        seen[pid] = latest or seen[pid]
    db_cpu = sum(seen[pid] - first[pid] for pid in seen)
    per_worker = [worker_cpu(w) - before for w, before in zip(workers, own_before, strict=True)]
    return {"wall": wall, "db": db_cpu, "workers": per_worker, "granted": now.granted,
            "parts": now.parts}


def fingerprint(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT (SELECT count(*) FROM ledger_grants), (SELECT sum(balance) FROM "
            "ledger_accounts WHERE owner_type = 'household'), (SELECT count(*) FROM "
            "journal_lines)")).one()
    engine.dispose()
    return tuple(int(v) for v in row)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--months", default="2026-05,2026-06")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    months = args.months.split(",")

    base = databases.unique_name("sk_bench_split")
    made = [base]
    print(f"{args.households} households; batch {args.batch}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    try:
        url = databases.create_pg_database(base)
        migrations.upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with engine.begin() as conn:
            synth_households_pg(conn, args.households, deciles=4)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        engine.dispose()
        print(f"registry filled in {time.perf_counter() - started:.1f} s", flush=True)
        results = {}
        for count in counts:
            name = databases.unique_name(f"sk_bench_split{count}")
            made.append(name)
            results[count] = run_workers(args, count, name, base, months)
        report(results, counts, months)
    finally:
        if not args.keep:
            for name in made:
                databases.drop_pg_database(name)


def run_workers(args, count, name, base, months):  # type: ignore[no-untyped-def]
    url = databases.create_pg_database(name, template=base)
    queue = f"bench-split-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as instance:
        settings = {"DATABASE_URL": url, "BROKER_URL": BROKER, "INSTANCE_DIR": instance,
                    "SECRET_KEY": SECRET, "ALLOCATION_BATCH": str(args.batch),
                    "RESULT_BACKEND": "redis://127.0.0.1:6379/0", "LOG_LEVEL": "INFO"}
        app = create_app(**{**settings, "LOG_LEVEL": "WARNING"})
        celery = celery_init_app(app)
        logs = Path(instance)
        workers = [start_worker(settings, queue, logs / f"w{i}.log") for i in range(count)]
        try:
            time.sleep(5)  # the workers connect before the first task
            figures = {}
            for month in months:
                figures[month] = run_month(app, celery, queue, name, month, workers)
                f = figures[month]
                busy = (f["db"] + sum(f["workers"])) / f["wall"]
                print(f"{count} worker(s) {month}: wall {f['wall']:7.1f} s   database cpu "
                      f"{f['db']:6.1f} s   worker cpu "
                      f"{' + '.join(f'{c:.1f}' for c in f['workers'])} s   cores busy "
                      f"{busy:.2f}   {f['granted']} grants in {f['parts']} parts", flush=True)
        finally:
            for worker in workers:
                stop(worker)
            app.extensions["satukartu.db"].engine.dispose()
    figures["fingerprint"] = fingerprint(url)
    return figures


def report(results, counts, months) -> None:  # type: ignore[no-untyped-def]
    if len(counts) < 2:
        return
    one, more = counts[0], counts[-1]
    for month in months:
        speedup = results[one][month]["wall"] / results[more][month]["wall"]
        print(f"{month}: {more} workers vs {one}: speedup {speedup:.2f}x", flush=True)
    same = len({results[c]["fingerprint"] for c in counts}) == 1
    print(f"same grants, balances and line count in every run: {same} "
          f"{results[one]['fingerprint']}", flush=True)


if __name__ == "__main__":
    main()
