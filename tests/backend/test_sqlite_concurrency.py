"""The embedded SQLite hub under `satukartu serve` takes concurrent writes without 503s.

SQLite cannot turn a transaction that has read into a writer once another connection
has committed (SQLITE_BUSY_SNAPSHOT) or while one is writing, and busy_timeout does not
wait for that: the hub answered 503 "database unavailable, retry". A checkpoint failed
so on every request (signed and committed on a second connection while the request's
own transaction held a snapshot from its caller check), and 16 admins registering
terminals beside 16 readers got 11 answers 503. Transactions that may write now begin
IMMEDIATE (backend.db); these tests run the real server, with its gunicorn workers in
separate processes, as the demo does.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text

from backend.audit.append import append
from backend.audit.record import make_entry
from backend.db import BEGIN_IMMEDIATE, SQLITE_BEGIN, make_engine
from backend.registry.national_ids import make_nik
from tests.support.private_services import free_port
from tests.support.served_hub import SATUKARTU, serving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sqlite_served")]

PASSWORD = "correct-horse-battery-staple-9"
REGION = "3578081010"
BIRTH = dt.date(1990, 5, 17)
CLIENTS = 8


@dataclass
class ServedHub:
    url: str
    database_url: str
    token: str
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.url + path, headers=self.headers, timeout=60,
                                **kwargs)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _satukartu(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    done = subprocess.run([SATUKARTU, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"satukartu {' '.join(args)}: {done.stderr[-2000:]}"


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/api/v1/openapi.json", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    """A fresh embedded instance as an operator makes one, served by gunicorn (2 workers)
    on a free loopback port, and the admin's bearer token."""
    instance = tmp_path_factory.mktemp("served") / "instance"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATUKARTU_")}
    env |= {"SATUKARTU_INSTANCE_DIR": str(instance), "SATUKARTU_ORIGIN": url,
            "SATUKARTU_LOG_LEVEL": "WARNING"}
    _satukartu(env, "db", "upgrade")
    _satukartu(env, "ca", "init")
    _satukartu(env, "staff", "add", "admin", "--role", "admin", "--name", "Admin Satu",
               "--password-stdin", stdin=PASSWORD + "\n")
    log = instance / "serve.log"
    with serving(env, port, log, lambda: _answers(url)):
        signed_in = requests.post(url + "/api/v1/auth/staff/login", timeout=30,
                                  json={"username": "admin", "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        yield ServedHub(url, f"sqlite:///{instance / 'satukartu.db'}",
                        signed_in.json()["access_token"], log)


def test_a_checkpoint_is_signed_on_request(hub: ServedHub):
    """The single-request 503: twice, since it failed every time, not once in a while."""
    for _ in range(2):
        answer = hub.call("POST", "/api/v1/audit/checkpoints")
        assert answer.status_code == 201, f"{answer.text}\n{hub.log_tail()}"
    listed = hub.call("GET", "/api/v1/audit/checkpoints").json()["checkpoints"]
    assert len(listed) >= 2


def _citizen_body(sequence: int) -> dict[str, Any]:
    return {"national_number": make_nik(REGION, BIRTH, "F", sequence),
            "full_name": "Siti Aminah", "birth_date": BIRTH.isoformat(), "sex": "F",
            "address": "Jl. Melati 7", "region_code": REGION, "language": "id"}


def test_concurrent_writes_and_reads_all_land_without_a_5xx(hub: ServedHub):
    """8 clients at once: every mutating route's happy path beside reads, including a
    read of personal data (deferred, then audited: the read-then-write case)."""
    tag = uuid.uuid4().hex[:8]
    first = hub.call("POST", "/api/v1/citizens", json=_citizen_body(9000))
    assert first.status_code == 201, first.text
    someone = first.json()["id"]
    checkpoints_before = len(hub.call("GET", "/api/v1/audit/checkpoints").json()["checkpoints"])
    rounds = 4
    calls: list[tuple[str, Callable[[], requests.Response]]] = []
    for n in range(rounds * CLIENTS // 2):
        calls += [
            ("terminal", lambda n=n: hub.call("POST", "/api/v1/terminals",
                                              json={"kind": "kiosk", "name": f"{tag} kiosk {n}"})),
            ("staff", lambda n=n: hub.call("POST", "/api/v1/staff",
                                           json={"username": f"clerk.{tag}.{n}",
                                                 "role": "clerk", "display_name": "Ani"})),
            ("citizen", lambda n=n: hub.call("POST", "/api/v1/citizens",
                                             json=_citizen_body(100 + n))),
            ("checkpoint", lambda: hub.call("POST", "/api/v1/audit/checkpoints")),
            ("read", lambda: hub.call("GET", "/api/v1/staff")),
            ("read", lambda: hub.call("GET", "/api/v1/terminals")),
            ("read", lambda: hub.call("GET", f"/api/v1/citizens/{someone}",
                                      params={"purpose": "counter service"})),
        ]
    with ThreadPoolExecutor(CLIENTS) as clients:
        answers = list(clients.map(lambda call: (call[0], call[1]()), calls))

    failed = [(kind, a.status_code, a.text[:200]) for kind, a in answers if a.status_code >= 400]
    assert not failed, f"{failed}\n{hub.log_tail()}"
    made = {kind: [a.json() for k, a in answers if k == kind]
            for kind in ("terminal", "staff", "citizen", "checkpoint")}
    terminals = {t["name"] for t in hub.call("GET", "/api/v1/terminals").json()["items"]}
    assert {t["name"] for t in made["terminal"]} <= terminals
    staff = {s["username"] for s in hub.call("GET", "/api/v1/staff").json()["items"]}
    assert {s["username"] for s in made["staff"]} <= staff
    for person in made["citizen"]:
        read = hub.call("GET", f"/api/v1/citizens/{person['id']}",
                        params={"purpose": "counter service"})
        assert read.json()["national_number"] == person["national_number"]
    listed = hub.call("GET", "/api/v1/audit/checkpoints").json()["checkpoints"]
    assert len(listed) == checkpoints_before + len(made["checkpoint"])
    verified = hub.call("POST", "/api/v1/audit/verify").json()
    assert verified["intact"], verified


def test_readers_are_served_while_a_writer_holds_the_lock(hub: ServedHub):
    """Read-only requests begin deferred (WAL readers): they answer while another
    process holds the write lock; a write waits for it (busy_timeout), then lands."""
    engine = make_engine(hub.database_url)
    try:
        with engine.connect() as holder:
            holder.execution_options(**{SQLITE_BEGIN: BEGIN_IMMEDIATE})
            holder.execute(text("SELECT 1"))  # begins, taking the write lock
            assert hub.call("GET", "/api/v1/terminals").status_code == 200
            assert hub.call("GET", "/api/v1/staff").status_code == 200
            posted: list[requests.Response] = []
            writer = threading.Thread(target=lambda: posted.append(hub.call(
                "POST", "/api/v1/terminals", json={"kind": "gate", "name": "waits its turn"})))
            writer.start()
            writer.join(1.0)
            assert writer.is_alive() and not posted  # waiting for the lock, not refused
            holder.commit()
        writer.join(30)
        assert posted and posted[0].status_code == 201, posted and posted[0].text
    finally:
        engine.dispose()


def test_an_audited_read_chains_after_a_write_committed_since_it_began(hub: ServedHub):
    """A deferred transaction that read, then appends its audit record after another
    connection wrote: once SQLITE_BUSY_SNAPSHOT, now begun again as a writer."""
    engine = make_engine(hub.database_url)
    entry = make_entry(None, action="test.data.read", subject_type=None, subject_id=None,
                       outcome="ok", purpose="test", details=None, citizen_id=None)
    try:
        with engine.connect() as reader:
            reader.execute(text("SELECT count(*) FROM audit_records")).scalar_one()
            assert hub.call("POST", "/api/v1/audit/checkpoints").status_code == 201
            first, last = append(reader, [entry])
            reader.commit()
        assert first == last
    finally:
        engine.dispose()
    verified = hub.call("POST", "/api/v1/audit/verify").json()
    assert verified["intact"], verified
