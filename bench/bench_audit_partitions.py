"""Verification of a month-partitioned audit log, and what 100 million records would take.

    .venv/bin/python bench/bench_audit_partitions.py --records 3000000 --months 6

A fresh PostgreSQL database is migrated to head (audit_records partitioned by month of
`at`, migration 0016); RECORDS chained records spread evenly over MONTHS months are
computed here (chain.py's hashes, so the chain verifies) and streamed in with COPY,
the table analysed, and `verify()` timed once with one process and once with JOBS
processes. Printed: the partitions filled, the plans of the verifier's read and of
the citizen's access log (per-partition index scans merged in seq order, no sort of
the whole log), records/s by the wall clock and CPU µs per record (this process and
the database backends, from /proc), and the time for 100 million records at the
measured rate: verification is one pass, linear in the records, so the rate carries.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from proc_cpu import backend_pids, cpu_seconds
from sqlalchemy import text

from backend import migrations
from backend.audit.chain import (
    ZERO_HASH,
    canonical_text,
    details_digest,
    details_json,
    leaf_hash,
    next_head,
)
from backend.audit.rows import _PG_COPY
from backend.audit.verify import verify
from backend.db import driver_connection, make_engine
from backend.testing import databases

PARTITION = re.compile(r"audit_records_(\d{4}_\d{2}|default)")
TARGET = 100_000_000
START = datetime(2026, 1, 1, tzinfo=UTC)
COPY = ("COPY audit_records (seq, at, actor_kind, actor, role, terminal_id, action, "
        "subject_type, subject_id, citizen_id, purpose, outcome, details, details_digest, "
        "prev_hash, hash) FROM STDIN")
# the verifier's own query (rows.py), without the COPY around it
VERIFIER_READ = _PG_COPY.format(where="WHERE seq >= 1").strip().removeprefix("COPY (") \
    .rsplit(") TO STDOUT", 1)[0]
ACCESS_LOG = ("SELECT seq FROM audit_records WHERE citizen_id = 4242 AND action LIKE "
              "'%.read' AND outcome = 'ok' ORDER BY seq DESC LIMIT 50")


def fill(url: str, records: int, months: int) -> float:
    """Chain `records` records over `months` months into audit_records; seconds taken."""
    started = time.perf_counter()
    step = timedelta(days=30.4 * months) / records
    engine = make_engine(url, poolclass=None)
    with engine.begin() as conn:
        conn.execute(text(f"SELECT partitions_add_month('audit_records', "
                          f"(DATE '{START:%Y-%m-%d}' + make_interval(months => m))::date) "
                          f"FROM generate_series(0, {months}) m"))
        raw = driver_connection(conn)
        prev = ZERO_HASH
        with raw.cursor() as cursor, cursor.copy(COPY) as copy:
            for seq in range(1, records + 1):
                citizen = seq % 100_000
                details = details_json({"fields": ["name", "address"], "n": seq})
                row = {"seq": seq, "at": START + step * seq, "actor_kind": "staff",
                       "actor": f"clerk{seq % 50}", "role": "clerk", "terminal_id": "t-7",
                       "action": "registry.citizen.read", "subject_type": "citizen",
                       "subject_id": str(citizen), "citizen_id": citizen,
                       "purpose": "counter service", "outcome": "ok",
                       "details_digest": details_digest(details)}
                current = next_head(prev, leaf_hash(canonical_text(row)))
                copy.write_row((seq, row["at"], "staff", row["actor"], "clerk", "t-7",
                                row["action"], "citizen", row["subject_id"], citizen,
                                "counter service", "ok", details, row["details_digest"],
                                prev, current))
                prev = current
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE audit_records"))
    engine.dispose()
    return time.perf_counter() - started


def partitions(url: str) -> list[tuple[str, int]]:
    engine = make_engine(url, poolclass=None)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.relname, c.reltuples::bigint FROM pg_inherits i JOIN pg_class c "
            "ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_records'::regclass "
            "ORDER BY c.relname")).all()
    engine.dispose()
    return [(name, int(count)) for name, count in rows]


def plan(url: str, query: str, *settings: str) -> list[str]:
    """The plan's node lines without costs, the partitions' scans folded into one line
    per kind, so the printed plan stays short."""
    engine = make_engine(url, poolclass=None)
    with engine.connect() as conn:
        for setting in settings:
            conn.execute(text(f"SET LOCAL {setting}"))
        lines = conn.execute(text(f"EXPLAIN (COSTS OFF) {query}")).scalars().all()
    engine.dispose()
    kept: dict[str, int] = {}
    for line in lines:
        node = line.strip().removeprefix("-> ").strip()
        if node.startswith(("Index Scan", "Seq Scan", "Index Only Scan", "Bitmap")):
            node = PARTITION.sub("<month>", node.split(" on ")[0]) + " on a partition"
        elif not node or node.startswith(("Index Cond", "Filter", "Sort Key", "Recheck")):
            continue
        kept[node] = kept.get(node, 0) + 1
    return [f"{node}{f' x{count}' if count > 1 else ''}" for node, count in kept.items()]


def timed_verify(url: str, db_name: str, jobs: int) -> tuple[int, float, float, float]:
    """(records, wall seconds, client CPU s, database CPU s) of one verification."""
    engine = make_engine(url, poolclass=None)
    conninfo = databases._admin_conninfo()
    with engine.connect() as conn:
        before_pids = set(backend_pids(conninfo, db_name))
        cpu_client = time.process_time()
        server_before = cpu_seconds(before_pids)
        started = time.perf_counter()
        report = verify(conn, None, None, jobs)
        wall = time.perf_counter() - started
        client = time.process_time() - cpu_client
        server = cpu_seconds(before_pids) - server_before
    engine.dispose()
    if not report.intact:
        raise SystemExit(f"the benchmark's chain does not verify: {report.to_dict()}")
    return report.records, wall, client, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=3_000_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average at start "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    name = databases.unique_name("sk_bench_parts")
    url = databases.create_pg_database(name)
    try:
        migrations.upgrade(url)
        seconds = fill(url, args.records, args.months)
        print(f"filled {args.records:,} chained records over {args.months} months "
              f"in {seconds:.0f} s")
        for part, count in partitions(url):
            print(f"  {part}: ~{count:,} rows")
        for label, query, settings in (
                ("verifier's read (rows.py turns sorts off)", VERIFIER_READ,
                 ("enable_sort = off",)),
                ("verifier's read as the planner would choose", VERIFIER_READ, ()),
                ("access log", ACCESS_LOG, ())):
            print(f"plan of the {label}:")
            for line in plan(url, query, *settings):
                print(f"  {line}")
        print("| verify | records | jobs | records/s (wall) | client CPU µs/record "
              "| database CPU µs/record | 100 M records, wall |\n|---|---|---|---|---|---|---|")
        for jobs in sorted({1, args.jobs}):
            count, wall, client, server = timed_verify(url, name, jobs)
            rate = count / wall
            # slices run in processes of their own, on connections of their own
            cpu = (f"{client / count * 1e6:.1f} | {server / count * 1e6:.1f}" if jobs == 1
                   else "— | —")
            print(f"| partitioned by month | {count:,} | {jobs} | {rate:,.0f} | {cpu} "
                  f"| {TARGET / rate / 60:,.0f} min |", flush=True)
    finally:
        databases.drop_pg_database(name)
    print(f"load average at end {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
