"""What a streaming replica takes off the primary: the audit log's readers, measured.

    .venv/bin/python bench/bench_replica_reads.py [--records 200000] [--listings 300]
        [--verifications 3]

Starts a private PostgreSQL primary and a hot standby of it (pg_basebackup, streaming;
tests/support/private_services.py), migrates the primary and fills its audit log with
RECORDS chained records about 10,000 citizens (bench_audit.fill). Then the hub, in this
process through Flask's test client, serves the same auditor requests twice: without a
replica, and with SATUKARTU_DATABASE_REPLICA_URL naming the standby. The requests: a
citizen's records (`GET /audit/records?citizen_id=`, 50 at most: what the access log
reads too) and the whole chain's verification (`POST /audit/verify`). Each writes its
own audit record on the primary, as it must.

For each it prints the wall time and the CPU every process of each cluster spent
(from /proc: backends, WAL writer and sender, the standby's replay), per request.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_audit import fill
from proc_cpu import children, cpu_seconds

from backend import migrations
from backend.app import create_app
from backend.testing.identity import bearer, make_staff
from tests.support.private_services import PrivatePostgres

CITIZENS = 10_000


def cluster_cpu(server: PrivatePostgres) -> float:
    """CPU seconds of every process of a cluster: the postmaster and its children."""
    pid = server.pid()
    assert pid is not None, "the cluster is not running"
    return cpu_seconds([pid, *children(pid)])


def measure(app_settings: dict, primary: PrivatePostgres, standby: PrivatePostgres,
            label: str, requests: list[Callable]) -> None:
    app = create_app(**app_settings)
    token = bearer(make_staff(app, "auditor").token)
    client = app.test_client()
    requests[0](client, token)  # warm: connections, caches
    times = []
    p0, s0 = cluster_cpu(primary), cluster_cpu(standby)
    for request in requests:
        started = time.perf_counter()
        request(client, token)
        times.append((time.perf_counter() - started) * 1000)
    time.sleep(0.5)  # the standby replays the requests' own records
    primary_us = (cluster_cpu(primary) - p0) / len(requests) * 1e6
    standby_us = (cluster_cpu(standby) - s0) / len(requests) * 1e6
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
    print(f"  {label:<34} median {statistics.median(times):8.1f} ms  p95 {p95:8.1f} ms  "
          f"primary {primary_us:9,.0f} us  standby {standby_us:9,.0f} us", flush=True)
    db = app.extensions["satukartu.db"]
    db.engine.dispose()
    if db.replica is not None:
        db.replica.dispose()


def listing(rng: random.Random) -> Callable:
    def one(client, token) -> None:
        answer = client.get("/api/v1/audit/records", headers=token,
                            query_string={"citizen_id": rng.randrange(1, CITIZENS),
                                          "limit": 50})
        assert answer.status_code == 200, answer.json
    return one


def verification(client, token) -> None:
    answer = client.post("/api/v1/audit/verify", headers=token)
    assert answer.status_code == 200 and answer.json["intact"], answer.json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--listings", type=int, default=300)
    parser.add_argument("--verifications", type=int, default=3)
    args = parser.parse_args()
    primary = PrivatePostgres().init()
    standby = None
    try:
        primary.start()
        url = primary.create_database("city")
        migrations.upgrade(url)
        started = time.perf_counter()
        fill(url, args.records)
        print(f"{args.records:,} audit records in {time.perf_counter() - started:.0f} s")
        standby = primary.standby()
        instance = tempfile.mkdtemp(prefix="bench-replica-")
        base = {"DATABASE_URL": url, "INSTANCE_DIR": instance, "LOG_LEVEL": "WARNING",
                "SECRET_KEY": "bench-secret-key-not-for-production"}
        one_listing = listing(random.Random(1))
        kinds = {"a citizen's records (50 at most)": [one_listing] * args.listings,
                 f"verify the whole chain ({args.records:,})":
                 [verification] * args.verifications}
        for kind, requests in kinds.items():
            print(kind)
            measure({**base, "DATABASE_REPLICA_URL": ""}, primary, standby, "the primary alone",
                    requests)
            measure({**base, "DATABASE_REPLICA_URL": standby.url("city")}, primary, standby,
                    "with the replica", requests)
    finally:
        if standby is not None:
            standby.destroy()
        primary.destroy()


if __name__ == "__main__":
    main()
