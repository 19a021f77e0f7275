"""CPU seconds of local processes, from /proc: what the benchmarks charge to each part.

On a shared machine wall time follows everyone's load; the CPU a process (a gunicorn
worker, a PostgreSQL backend, a client) spent says what the work itself cost.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import psycopg

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds so far of these processes (gone ones count nothing)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def children(pid: int) -> list[int]:
    """The direct children of `pid` (a gunicorn arbiter's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def backend_pids(conninfo: str, db_name: str) -> list[int]:
    """The PostgreSQL backends connected to `db_name` now (the asking one excluded)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db_name,))]


WAL_HELPERS = ("walwriter", "checkpointer", "background writer")


def wal_helper_pids() -> list[int]:
    """PostgreSQL's WAL writer, checkpointer and background writer on this machine: they
    write and flush for the backends (all of a commit's flush, when it does not wait),
    so their CPU is the database's too."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and title.rstrip("\0 ").endswith(WAL_HELPERS):
            found.append(int(entry.name))
    return found


def wal_counters(conninfo: str) -> dict[str, float]:
    """The server's WAL statistics so far (`pg_stat_wal`, the whole cluster's): records,
    bytes, and flushes to disk (`wal_sync`, each a commit's or the WAL writer's fsync)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal").fetchone()
    return {"records": float(row[0]), "bytes": float(row[1]), "flushes": float(row[2])}
