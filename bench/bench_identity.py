"""What staff and terminal identities cost per request, on PostgreSQL.

    .venv/bin/python bench/bench_identity.py [--requests 2000] [--logins 40]

Makes a fresh PostgreSQL database, a staff account and a terminal, then measures in
one process (Flask's test client, no HTTP server, so the figures are the hub's own
CPU per request):

- the parts: one token signature check, one indexed read of the account row;
- a guarded request (GET /api/v1/auth/whoami) with a staff token and with a
  terminal token, against the public health check (the same Flask and database
  round trip, no identity): the difference is what identity adds to every request;
- the terminal token endpoint (throttle reservation commit, client check, token,
  audit record, commit);
- a staff password sign-in, against one argon2id check alone.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from backend import migrations
from backend.app import create_app
from backend.db import database
from backend.identity import accounts, passwords, state, tokens
from backend.identity.models import StaffAccount
from backend.testing import databases

PASSWORD = "bench-password-kopi-susu"


def per_call(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """(median, p99) in microseconds of n calls, after a short warm-up."""
    for _ in range(min(50, n)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def setup(app) -> tuple[str, str, str, str]:
    with app.app_context(), database().transaction() as tx:
        account = accounts.create_staff(tx, username="bench.clerk", role="clerk",
                                        password=PASSWORD)
        terminal, secret = accounts.create_terminal(tx, kind="kiosk", name="bench kiosk")
        staff = tokens.issue(state().key, kind="staff", subject=account.username,
                             account_id=str(account.id), role="clerk", generation=0,
                             ttl=3600).token
    client = app.test_client()
    basic = base64.b64encode(f"{terminal.client_id}:{secret}".encode()).decode()
    answer = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {basic}"})
    return staff, answer.json["access_token"], basic, account.username


def run(requests: int, logins: int) -> None:
    name = databases.unique_name("sk_bench_identity")
    url = databases.create_pg_database(name)
    try:
        migrations.upgrade(url)
        with tempfile.TemporaryDirectory() as instance:
            app = create_app(DATABASE_URL=url, INSTANCE_DIR=instance,
                             SECRET_KEY="bench-secret", LOG_LEVEL="WARNING")
            measure(app, requests, logins)
            app.extensions["satukartu.db"].engine.dispose()
    finally:
        databases.drop_pg_database(name)


def measure(app, requests: int, logins: int) -> None:
    staff, terminal, basic, username = setup(app)
    client = app.test_client()
    rows = []
    with app.app_context():
        key = state().key
        rows.append(("token signature check (HS256)", per_call(
            lambda: tokens.read(key, staff), requests)))
        query = select(StaffAccount.enabled).where(StaffAccount.id == 1)
        with database().engine.connect() as conn:
            rows.append(("indexed read of the account row (Core)", per_call(
                lambda: conn.execute(query).first(), requests)))
    rows.append(("GET /health, public (no identity)", per_call(
        lambda: client.get("/api/v1/health"), requests)))
    for label, token in (("staff", staff), ("terminal", terminal)):
        headers = {"Authorization": f"Bearer {token}"}
        rows.append((f"GET /auth/whoami with a {label} token", per_call(
            lambda h=headers: client.get("/api/v1/auth/whoami", headers=h), requests)))
    form = {"grant_type": "client_credentials"}
    rows.append(("POST /oauth/token (client credentials)", per_call(
        lambda: client.post("/api/v1/oauth/token", data=form,
                            headers={"Authorization": f"Basic {basic}"}), requests // 4)))
    stored = passwords.hash_password(PASSWORD)
    rows.append(("argon2id check alone", per_call(
        lambda: passwords.verify(stored, PASSWORD), logins)))
    body = {"username": username, "password": PASSWORD}
    rows.append(("POST /auth/staff/login", per_call(
        lambda: client.post("/api/v1/auth/staff/login", json=body), logins)))
    print("| step | median µs | p99 µs | per second (1 core, median) |")
    print("|---|---|---|---|")
    for label, (median, p99) in rows:
        print(f"| {label} | {median:,.0f} | {p99:,.0f} | {1e6 / median:,.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--logins", type=int, default=40)
    args = parser.parse_args()
    run(args.requests, args.logins)
