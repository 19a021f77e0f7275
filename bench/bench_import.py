"""Registry import speed: a synthetic city into a fresh PostgreSQL database.

    .venv/bin/python bench/bench_import.py --citizens 1000000

Generates the CSV with backend.registry.synth (not timed with the import), creates and
migrates a fresh database, imports through the same code as `satukartu registry
import`, prints rows/s, the total and each phase, then drops the database.

Wall time depends on what else the machine runs, so the CPU seconds the import used
are printed too: this process, and the PostgreSQL backend serving it (read from
/proc when the server is local).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from backend import migrations
from backend.app import create_app
from backend.db import make_engine
from backend.registry import importer, synth

ADMIN_URL = os.environ.get("SATUKARTU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)


def _backend_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a local PostgreSQL backend process, if readable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", type=Path, help="reuse or keep the generated CSV here")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    source = args.csv or workdir / "city.csv"
    if not source.exists():
        started = time.perf_counter()
        synth.write_file(source, args.citizens, args.seed)
        print(f"synthetic CSV: {args.citizens:,} citizens, {source.stat().st_size / 1e6:.0f} MB "
              f"in {time.perf_counter() - started:.1f} s")

    name = f"sk_bench_import_{uuid.uuid4().hex[:8]}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        migrations.upgrade(url)
        app = create_app(DATABASE_URL=url, INSTANCE_DIR=str(workdir / "instance"))
        engine = make_engine(url, pool_size=1, max_overflow=0)  # one connection: one backend
        with app.app_context():
            with engine.connect() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            server_before, own_before = _backend_cpu(pid), _own_cpu()
            report = importer.import_csv(engine, source, formats=("nik",), screen=False)
            server_after, own_after = _backend_cpu(pid), _own_cpu()
        engine.dispose()
        app.extensions["satukartu.db"].engine.dispose()
    finally:
        _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    print(f"imported {report.citizens:,} citizens, {report.households:,} households, "
          f"{report.enrolments:,} enrolments, {report.health:,} health assignments")
    for phase, seconds in report.phases.items():
        print(f"  {phase:<22} {seconds:6.1f} s")
    print(f"total {report.seconds:.1f} s, {report.rows / report.seconds:,.0f} rows/s")
    server = ("n/a" if server_before is None or server_after is None
              else f"{server_after - server_before:.1f} s")
    print(f"CPU: importer {own_after - own_before:.1f} s, PostgreSQL backend {server}; "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
