"""Load test of the hub: a realistic mix against `satukartu serve` on a fresh PostgreSQL.

    .venv/bin/python bench/load/run_load.py [--duration 180] [--users 60]
        [--spawn-rate 20] [--workers 2] [--threads 4] [--households 20000] [--cards 2000]

Seeds a city (bench/load/world.py), starts `satukartu serve` on loopback, drives it with
Locust (bench/load/locustfile.py: kiosk taps with balance checks, agent redemptions
with the PIN, clerk reads) for `--duration` seconds after every user has started,
samples the resident memory of each gunicorn worker every few seconds, then checks
what the run left behind: the ledger balanced, one redemption per success, the audit
chain intact. Prints throughput, p50/p99 latency per request kind, the error rate and
the memory series; exits non-zero on any failed request or broken check.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(HERE)]

import world  # noqa: E402

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int, env: dict[str, str], args: argparse.Namespace, log: Path
          ) -> subprocess.Popen:
    """`satukartu serve` (it execs gunicorn, so this process is gunicorn's master)."""
    cmd = [str(BIN / "satukartu"), "serve", "--bind", f"127.0.0.1:{port}",
           "--workers", str(args.workers), "--threads", str(args.threads)]
    handle = log.open("wb")
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=handle,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"satukartu serve exited; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                if len(psutil.Process(proc.pid).children()) >= args.workers:
                    time.sleep(2.0)  # every worker imported the hub
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"satukartu serve did not start; see {log}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class MemorySampler(threading.Thread):
    """RSS of every gunicorn worker, in MiB, every `interval` seconds."""

    def __init__(self, master: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.master, self.interval = master, interval
        self.samples: list[tuple[float, dict[int, float]]] = []
        self.done = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            rss = {}
            for child in psutil.Process(self.master).children():
                try:
                    rss[child.pid] = child.memory_info().rss / 2**20
                except psutil.NoSuchProcess:
                    continue
            self.samples.append((time.monotonic() - self.started_at, rss))


def run_locust(host: str, fixture: Path, args: argparse.Namespace, prefix: Path) -> int:
    cmd = [str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless",
           "--host", host, "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
           "--run-time", f"{args.duration + args.users // args.spawn_rate + 1}s",
           "--json-file", str(prefix), "--only-summary", "--loglevel", "WARNING",
           "--stop-timeout", "10"]
    env = {**os.environ, "SATUKARTU_LOAD_FIXTURE": str(fixture), "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, env=env, cwd=ROOT, check=False).returncode


@dataclass
class Line:
    label: str
    count: int
    failures: int
    rate: float
    p50: int
    p99: int


def _percentile(histogram: Counter, share: float) -> int:
    """Locust keeps response times as a histogram of rounded milliseconds."""
    wanted, seen = share * sum(histogram.values()), 0
    for ms in sorted(histogram):
        seen += histogram[ms]
        if seen >= wanted:
            return ms
    return 0


def read_stats(prefix: Path) -> list[Line]:
    """Per request kind and overall, from Locust's final stats (the whole run)."""
    entries = json.loads(Path(f"{prefix}.json").read_text(encoding="utf-8"))
    span = (max(e["last_request_timestamp"] or 0 for e in entries)
            - min(e["start_time"] for e in entries)) or 1.0

    def line(label: str, group: list[dict]) -> Line:
        times: Counter = Counter()
        for entry in group:
            times.update({int(ms): n for ms, n in entry["response_times"].items()})
        count = sum(e["num_requests"] for e in group)
        return Line(label, count, sum(e["num_failures"] for e in group), count / span,
                    _percentile(times, 0.50), _percentile(times, 0.99))

    lines = [line(f"{e['method']} {e['name']}", [e])
             for e in sorted(entries, key=lambda e: e["name"])]
    return lines + [line("all", entries)]


def after_checks(db_url: str, instance: Path, env: dict[str, str]) -> dict[str, object]:
    """What the run left: a balanced ledger, no negative balance, an intact audit chain."""
    from sqlalchemy import text

    from backend.db import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        unbalanced = conn.scalar(text("SELECT count(*) FROM (SELECT entry_id FROM "
                                      "journal_lines GROUP BY entry_id HAVING sum(amount) <> 0)"
                                      " u"))
        negative = conn.scalar(text("SELECT count(*) FROM ledger_accounts WHERE balance < 0 "
                                    "AND NOT allow_negative"))
        redemptions = conn.scalar(text("SELECT count(*) FROM journal_entries "
                                       "WHERE programme = 'food' AND kind <> 'credit'"))
    engine.dispose()
    verify = subprocess.run([str(BIN / "satukartu"), "audit", "verify", "--json"],
                            env={**os.environ, **env}, cwd=ROOT, capture_output=True,
                            text=True, check=False)
    return {"unbalanced_entries": unbalanced, "negative_balances": negative,
            "redemption_entries": redemptions, "audit_verify_exit": verify.returncode,
            "audit": verify.stdout.strip()[-300:]}


def memory_report(sampler: MemorySampler, warmup: float) -> dict[str, object]:
    series: dict[int, list[tuple[float, float]]] = {}
    for at, rss in sampler.samples:
        for pid, mib in rss.items():
            series.setdefault(pid, []).append((at, mib))
    workers = {}
    for pid, points in series.items():
        settled = [mib for at, mib in points if at >= warmup] or [points[-1][1]]
        workers[pid] = {"after_warmup": round(settled[0], 1), "end": round(points[-1][1], 1),
                        "max": round(max(m for _, m in points), 1),
                        "growth": round(points[-1][1] - settled[0], 1),
                        "series": [round(m, 1) for _, m in points]}
    return workers


def report(stats: list[Line], memory: dict, checks: dict, args: argparse.Namespace,
           code: int) -> bool:
    total = stats[-1]
    requests, failures = total.count, total.failures
    print(f"\nload: {args.users} users for {args.duration} s, {args.workers} gunicorn workers "
          f"x {args.threads} threads, {args.households} households, {args.cards} cards; "
          f"{os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.1f} "
          "(Locust and PostgreSQL share the machine)")
    print(f"{'request':44} {'count':>8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'fail':>5}")
    for row in stats:
        print(f"{row.label:44} {row.count:>8} {row.rate:8.1f} {row.p50:>7} {row.p99:>7} "
              f"{row.failures:>5}")
    print(f"error rate: {failures}/{requests} = {failures / max(requests, 1):.4%}")
    print("gunicorn worker RSS (MiB): after warm-up -> end (max), growth")
    for pid, mem in memory.items():
        print(f"  worker {pid}: {mem['after_warmup']} -> {mem['end']} (max {mem['max']}), "
              f"{mem['growth']:+}")
        print(f"    every {args.sample}s: {mem['series']}")
    print(f"after the run: {json.dumps({k: v for k, v in checks.items() if k != 'audit'})}")
    redeemed = sum(row.count - row.failures for row in stats
                   if row.label == "POST /api/v1/services/food/redeem")
    print(f"redemptions answered 200: {redeemed}; redemption entries in the ledger: "
          f"{checks['redemption_entries']}")
    ok = (failures == 0 and code == 0 and checks["unbalanced_entries"] == 0
          and checks["negative_balances"] == 0 and checks["audit_verify_exit"] == 0
          and redeemed == checks["redemption_entries"])
    print("result:", "ok" if ok else "FAILED")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=180, help="seconds of full load")
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--spawn-rate", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--cards", type=int, default=2_000)
    parser.add_argument("--sample", type=float, default=5.0, help="memory sample interval")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sk-load-"))
    name, url = world.create_database()
    server = None
    try:
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        fixture = work / "city.json"
        started = time.monotonic()
        env = world.seed(url, work / "instance", host, households=args.households,
                         cards=args.cards, kiosks=20, agents=20, clerks=10, out=fixture)
        print(f"seeded in {time.monotonic() - started:.1f} s; serving on {host}")
        server = serve(port, env, args, work / "serve.log")
        sampler = MemorySampler(server.pid, args.sample)
        sampler.start()
        code = run_locust(host, fixture, args, work / "locust")
        sampler.done.set()
        sampler.join()
        stop(server)
        server = None
        stats = read_stats(work / "locust")
        memory = memory_report(sampler, warmup=args.users / args.spawn_rate + 30)
        checks = after_checks(url, work / "instance", env)
        ok = report(stats, memory, checks, args, code)
        if args.json:
            args.json.write_text(json.dumps({"stats": [vars(line) for line in stats],
                                             "memory": memory,
                                             "checks": checks, "ok": ok}, indent=1))
    finally:
        if server is not None:
            stop(server)
        world.drop_database(name)
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
