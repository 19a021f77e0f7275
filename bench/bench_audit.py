"""Audit log speed: concurrent appends on PostgreSQL, and verification on both databases.

    .venv/bin/python bench/bench_audit.py                       # everything, defaults below
    .venv/bin/python bench/bench_audit.py --only verify --records 1000000

Appends: WRITERS sessions (spread over PROCESSES processes, by default one each, each
with its own connection) call record() in transactions of K records for SECONDS, on a
fresh PostgreSQL database; the chain is verified gap-free afterwards. Records commit
into the queue with their transaction and the sequencer chains them (migration 0007),
so commits overlap. Besides records/s, the CPU the writers and the database backends
spent per record is read from /proc: on a shared machine the rate follows the load,
while `2 cores / CPU per record` says what the parts cost. `--async-commit` shows the
same run with synchronous_commit=off (not a deployment setting).

Verification: RECORDS records appended in batches, then `verify()` timed (best of 2)
on PostgreSQL and on an SQLite file, in one process and in two (`--jobs 2`).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from proc_cpu import backend_pids, cpu_seconds
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from backend import migrations
from backend.audit import record
from backend.audit.append import append
from backend.audit.record import make_entry
from backend.audit.sequencer import settle
from backend.audit.verify import verify
from backend.db import make_engine
from backend.testing import databases

_PLAIN_ROW = text("INSERT INTO bench_rows (writer, i, body) VALUES (:writer, :i, :body)")


def _writer_process(url: str, threads: int, per_tx: int, seconds: float, async_commit: bool,
                    ready: mp.Barrier, out: mp.Queue, nice: int, done: mp.Barrier,
                    plain: bool) -> None:
    if nice:
        os.nice(nice)  # the database before its clients, as on its own machine
    engine = make_engine(url, pool_size=threads, max_overflow=0)
    if async_commit:
        event.listen(engine, "connect", lambda dbapi, _rec: dbapi.execute(
            "SET synchronous_commit = off"))
    sessions = sessionmaker(bind=engine)
    counts = [0] * threads

    def run(n: int) -> None:
        with sessions() as sess:
            sess.connection()
            sess.commit()
            gate.wait()
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                with sess.begin():
                    for i in range(per_tx):
                        if plain:  # the same transaction without the audit log: the ceiling
                            sess.execute(_PLAIN_ROW, {"writer": n, "i": i,
                                                      "body": '{"purpose": "benchmark"}'})
                            continue
                        record(sess, action="bench.append", subject_type="citizen",
                               subject_id=str(i), citizen_id=n, purpose="benchmark",
                               details={"writer": n, "i": i})
                counts[n] += per_tx

    gate = threading.Barrier(threads, action=ready.wait)  # every writer connected, then go
    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    cpu = time.process_time()
    for worker in workers:
        worker.join()
    cpu = time.process_time() - cpu
    out.put((sum(counts), cpu))
    done.wait()  # connections stay open until their backends' CPU has been read
    engine.dispose()


def bench_appends(url: str, writers: int, processes: int, per_tx: int, seconds: float,
                  async_commit: bool, nice: int = 0,
                  plain: bool = False) -> tuple[float, bool, float, float]:
    """(records/s, chain gap-free, writers' CPU µs/record, database CPU µs/record)."""
    ctx = mp.get_context("fork")
    ready, done, out = ctx.Barrier(processes + 1), ctx.Barrier(processes + 1), ctx.Queue()
    per_process = [writers // processes + (1 if i < writers % processes else 0)
                   for i in range(processes)]
    procs = [ctx.Process(target=_writer_process, args=(url, n, per_tx, seconds, async_commit,
                                                       ready, out, nice, done, plain))
             for n in per_process]
    for proc in procs:
        proc.start()
    ready.wait()
    backends = (databases._admin_conninfo(), make_url(url).database)
    server_before = {pid: cpu_seconds([pid]) for pid in backend_pids(*backends)}
    began = time.perf_counter()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - began
    # pools open connections as writers need them: backends new since the start count whole
    server = sum(cpu_seconds([pid]) - server_before.get(pid, 0.0)
                 for pid in backend_pids(*backends))
    done.wait()
    for proc in procs:
        proc.join()
    engine = make_engine(url)
    left = settle(engine)  # the last tries can come while the holder commits
    with engine.connect() as conn:
        report = verify(conn, None, None)
    engine.dispose()
    if left:
        print(f"  ({left[1] - left[0] + 1} records were still queued when the writers "
              "stopped; chained by settle() before verifying)", flush=True)
    total = sum(count for count, _cpu in results)
    gap_free = report.intact and report.records == report.last_seq == (0 if plain else total)
    client = sum(cpu for _count, cpu in results)
    return total / elapsed, gap_free, client / total * 1e6, server / total * 1e6


def commit_latency(url: str, rounds: int = 300) -> float:
    """Milliseconds for one INSERT + COMMIT on one connection: the WAL flush that every
    serialised append waits for while it holds the chain's lock."""
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_commit (x integer)")
        conn.commit()
        started = time.perf_counter()
        for n in range(rounds):
            conn.exec_driver_sql("INSERT INTO bench_commit VALUES (%(n)s)", {"n": n})
            conn.commit()
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed / rounds * 1000


def fill(url: str, records: int, batch: int = 10_000) -> None:
    engine = make_engine(url)
    entries = [make_entry(None, action="registry.citizen.read", subject_type="citizen",
                          subject_id=str(i), outcome="ok", purpose="counter service",
                          details={"fields": ["address", "full_name"]}, citizen_id=i)
               for i in range(batch)]
    done = 0
    while done < records:
        with engine.begin() as conn:
            append(conn, entries[:min(batch, records - done)])
        done += batch
    engine.dispose()


def bench_verify(url: str, jobs: int) -> tuple[float, int, float, float]:
    """Best of 2: (records/s, records, client CPU µs/record, server CPU µs/record).

    CPU times come from /proc (this process, and the PostgreSQL backend serving the
    single-process run), so a loaded machine's share of the cores can be told apart
    from the verifier's own cost.
    """
    engine = make_engine(url)
    best, count, client_cpu, server_cpu = float("inf"), 0, 0.0, 0.0
    for _ in range(2):
        with engine.connect() as conn:
            backend = _backend_pid(conn)
            server_before = cpu_seconds(backend)
            cpu_before = time.process_time()
            started = time.perf_counter()
            report = verify(conn, None, None, jobs=jobs)
            elapsed = time.perf_counter() - started
            assert report.intact, report.to_dict()
            count = report.records
            if elapsed < best:
                best = elapsed
                client_cpu = (time.process_time() - cpu_before) / count * 1e6
                server_cpu = (cpu_seconds(backend) - server_before) / count * 1e6
    engine.dispose()
    return count / best, count, client_cpu, server_cpu


def _backend_pid(conn) -> list[int]:  # a SQLAlchemy Connection
    """The PostgreSQL backend serving `conn`, as a list for cpu_seconds (none on SQLite)."""
    if conn.dialect.name != "postgresql":
        return []
    return [conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()]


def _verify_row(label: str, url: str, jobs: int) -> None:
    rate, count, client, server = bench_verify(url, jobs)
    cpu = (f"{client:.1f} | {server:.1f}" if jobs == 1 and label == "PostgreSQL"
           else f"{client:.1f} | —" if jobs == 1 else "— | —")
    print(f"| {label} | {count:,} | {jobs} | {rate:,.0f} | {cpu} |", flush=True)


def fresh_pg() -> tuple[str, str]:
    name = databases.unique_name("sk_bench_audit")
    url = databases.create_pg_database(name)
    migrations.upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:  # for the baseline run
        conn.execute(text("CREATE TABLE bench_rows (id bigserial PRIMARY KEY, writer int, "
                          "i int, body text, at timestamptz DEFAULT now())"))
    engine.dispose()
    return name, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("append", "verify"))
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2,
                        help="writers are spread over this many processes as threads (on 2 "
                             "cores, 50 processes spend their CPU switching between them)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--per-transaction", default="1,3,10")
    parser.add_argument("--async-commit", action="store_true")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the run of one-row transactions without the audit log")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the writers at this nice level, so that on a small shared "
                             "machine the database is not starved by its own clients")
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average at start "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.only in (None, "append"):
        name, url = fresh_pg()
        try:
            latency = commit_latency(url)
        finally:
            databases.drop_pg_database(name)
        print(f"PostgreSQL INSERT + COMMIT on one connection: {latency:.2f} ms "
              f"(serialised commits cannot exceed {1000 / latency:,.0f}/s)")
        print(f"| appends, {args.writers} writers | records per transaction | records/s "
              "| chain gap-free | CPU µs/record: writers + database | 2 cores / CPU "
              "| 2 cores / database CPU |")
        print("|---|---|---|---|---|---|---|")
        runs = [] if args.no_baseline else [(1, False, True)]
        runs += [(int(k), async_commit, False) for k in args.per_transaction.split(",")
                 for async_commit in ((False, True) if args.async_commit else (False,))]
        for per_tx, async_commit, plain in runs:
            name, url = fresh_pg()
            try:
                rate, ok, client, server = bench_appends(
                    url, args.writers, args.processes, per_tx, args.seconds,
                    async_commit, args.nice, plain)
            finally:
                databases.drop_pg_database(name)
            mode = "synchronous_commit=off" if async_commit else "PostgreSQL, default commit"
            mode = "baseline: one plain row per transaction, no audit" if plain else mode
            mode += f", writers at nice {args.nice}" if args.nice else ""
            print(f"| {mode} | {per_tx} | {rate:,.0f} | "
                  f"{'—' if plain else 'yes' if ok else 'NO'} "
                  f"| {client:,.0f} + {server:,.0f} | {2e6 / (client + server):,.0f}/s "
                  f"| {2e6 / server:,.0f}/s |", flush=True)
    if args.only in (None, "verify"):
        print("| verify | records | jobs | records/s | client CPU µs/record "
              "| server CPU µs/record |\n|---|---|---|---|---|---|")
        name, url = fresh_pg()
        try:
            fill(url, args.records)
            for jobs in (1, 2):
                _verify_row("PostgreSQL", url, jobs)
        finally:
            databases.drop_pg_database(name)
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            migrations.upgrade(url)
            fill(url, args.records)
            for jobs in (1, 2):
                _verify_row("SQLite", url, jobs)
    print(f"load average at end {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
