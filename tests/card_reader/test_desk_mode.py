"""The reader daemon at an enrolment desk, end to end: a real hub on PostgreSQL over HTTP,
real pcscd with vpcd and virtual blank cards. An admin starts a job; the desk's daemon
claims it, the card makes its keys, the hub certifies them, the daemon writes them and
the hub activates the card, which then opens a PIN session like any other."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from backend.app import create_app
from backend.cards import ca as ca_module
from backend.cards.context import state
from backend.db import database
from backend.identity import accounts
from backend.testing.identity import make_staff
from backend.testing.registry import make_citizen
from card_reader.desk import DeskDaemon
from card_reader.hub_client import HubClient

pytestmark = [pytest.mark.pcsc, pytest.mark.postgres]
SATUKARTU = str(Path(sys.executable).parent / "satukartu")
PIN = "258013"
WAIT = 60  # seconds a step may take on a busy machine before the test gives up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Terminal:
    terminal_id: str
    client_id: str
    client_secret: str


@dataclass
class DeskHub:
    """A hub served over HTTP with its CA, an admin, a desk and a kiosk."""

    url: str
    app: Flask
    env: dict[str, str]
    admin: str
    desk: Terminal
    kiosk: Terminal

    def citizen(self) -> Any:
        with self.app.app_context():
            return make_citizen(full_name="Wayan Sudarma", sex="M")

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = requests.request(method, self.url + path, timeout=10,
                                  headers={"Authorization": f"Bearer {self.admin}"}, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def start_job(self, holder: Any) -> dict:
        return self.call("POST", "/api/v1/issuance-jobs", json={
            "citizen": holder.national_number, "desk": self.desk.terminal_id})

    def job(self, job_id: int) -> dict:
        return self.call("GET", f"/api/v1/issuance-jobs/{job_id}")

    def cards(self, holder: Any) -> list[dict]:
        return self.call("GET", "/api/v1/cards", params={"citizen": holder.id})["cards"]

    def desk_client(self, cls: type[HubClient] = HubClient) -> HubClient:
        return cls(self.url, self.desk.client_id, self.desk.client_secret, timeout=10)

    def read_card(self, reader: str, pin: str) -> tuple[int, dict]:
        done = subprocess.run(
            [SATUKARTU, "reader", "--once", "--json", "--hub", self.url, "--client-id",
             self.kiosk.client_id, "--client-secret", self.kiosk.client_secret, "--reader",
             reader, "--pin", pin], env=self.env, capture_output=True, text=True, timeout=WAIT)
        return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def _terminal(app: Flask, kind: str) -> Terminal:
    with app.app_context(), database().transaction() as tx:
        row, secret = accounts.create_terminal(tx, kind=kind, name=f"test {kind}")
        return Terminal(row.id, row.client_id, secret)


@pytest.fixture
def live(fresh_pg_url: str, instance_dir: Path, pcscd) -> Iterator[DeskHub]:
    port = _free_port()
    settings = {"DATABASE_URL": fresh_pg_url, "INSTANCE_DIR": str(instance_dir),
                "SECRET_KEY": "desk-test-secret", "ORIGIN": f"http://127.0.0.1:{port}"}
    app = create_app(**settings)
    with app.app_context():
        ca_module.init_ca(app.config["CA_DIR"], "Kota Uji")
        state(app).reload()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {**os.environ, **{f"SATUKARTU_{k}": v for k, v in settings.items()}}
    yield DeskHub(settings["ORIGIN"], app, env, make_staff(app, "admin").token,
                  _terminal(app, "desk"), _terminal(app, "kiosk"))
    server.shutdown()
    thread.join(5)
    app.extensions["satukartu.db"].engine.dispose()


class Events:
    """A sink that keeps the daemon's events and lets a test wait for one."""

    def __init__(self) -> None:
        self.seen: list[dict] = []
        self.arrived: queue.Queue[dict] = queue.Queue()
        self.hooks: dict[str, Any] = {}

    def __call__(self, event: dict) -> None:
        self.seen.append(event)
        hook = self.hooks.get(event["event"])
        if hook is not None:
            hook(event)
        self.arrived.put(event)

    def until(self, name: str) -> dict:
        while True:
            event = self.arrived.get(timeout=WAIT)
            if event["event"] == name:
                return event


def desk_daemon(live: DeskHub, events: Events, reader: str,
                client: HubClient | None = None) -> DeskDaemon:
    return DeskDaemon(client or live.desk_client(), sink=events,
                      pin_provider=lambda _reader: PIN, reader=reader, poll=0.2)


# --- the daemon as a desk runs it -----------------------------------------------------


def _lines(stream: Any, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def test_the_desk_daemon_issues_the_started_job_and_the_card_opens_a_pin_session(
        live, blank_card):
    holder = live.citizen()
    job = live.start_job(holder)
    daemon = subprocess.Popen(
        [SATUKARTU, "reader", "--kind", "desk", "--hub", live.url, "--client-id",
         live.desk.client_id, "--client-secret", live.desk.client_secret, "--reader",
         blank_card.reader, "--pin", PIN], env=live.env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(daemon.stdout, lines), daemon=True).start()
    try:
        while (event := json.loads(lines.get(timeout=WAIT)))["event"] not in (
                "issued", "issuance_failed", "refused"):
            pass
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(WAIT)
    assert event["event"] == "issued", event
    assert (event["job_id"], event["pin"], len(event["puk"])) == (job["job_id"], None, 8)
    assert live.job(job["job_id"])["status"] == "active"
    code, session = live.read_card(blank_card.reader, PIN)
    assert code == 0, session
    assert (session["assurance"], session["card_serial"]) == ("pin", event["serial"])


def test_the_pin_and_puk_the_desk_made_work_on_the_card(live, blank_card):
    holder = live.citizen()
    live.start_job(holder)
    events = Events()
    daemon = DeskDaemon(live.desk_client(), sink=events, reader=blank_card.reader, poll=0.2)
    issued = daemon.serve(blank_card.reader)
    assert issued is not None and len(issued["pin"]) == 6
    assert live.read_card(blank_card.reader, issued["pin"])[0] == 0


# --- half-way, retried ----------------------------------------------------------------


class PullingHub(HubClient):
    """A desk's client whose card is pulled out right after its first key is certified."""

    card: Any = None

    def certify_job(self, job_id, card_uuid, public_keys):
        made = super().certify_job(job_id, card_uuid, public_keys)
        if self.card is not None:
            self.card.remove()
            self.card = None
        return made


def test_a_card_pulled_half_way_leaves_no_card_and_the_next_blank_card_is_issued(
        live, vcard_factory):
    holder = live.citizen()
    job = live.start_job(holder)
    pulled = vcard_factory()
    client = live.desk_client(PullingHub)
    client.card = pulled
    events = Events()
    assert desk_daemon(live, events, pulled.reader, client).serve(pulled.reader) is None
    failed = events.until("issuance_failed")
    assert failed["refused"] == "card_removed"
    assert live.job(job["job_id"])["status"] == "failed"
    assert live.cards(holder) == []
    fresh = vcard_factory()
    issued = desk_daemon(live, events, fresh.reader).serve(fresh.reader)
    first_attempt = next(e for e in events.seen if e["event"] == "claimed")
    assert issued is not None and issued["serial"] != first_attempt["serial"]
    assert live.job(job["job_id"])["attempts"] == 2
    assert [c["serial"] for c in live.cards(holder)] == [issued["serial"]]
    assert live.read_card(fresh.reader, PIN)[0] == 0


def test_a_job_cancelled_while_the_card_is_written_leaves_no_card(live, blank_card):
    holder = live.citizen()
    job = live.start_job(holder)
    events = Events()
    events.hooks["claimed"] = lambda _event: live.call(
        "POST", f"/api/v1/issuance-jobs/{job['job_id']}/cancel", json={"note": "wrong person"})
    assert desk_daemon(live, events, blank_card.reader).serve(blank_card.reader) is None
    assert events.until("issuance_failed")["refused"] == "issuance_job_state_invalid"
    assert live.job(job["job_id"])["status"] == "cancelled"
    assert live.cards(holder) == []


# --- waiting and refusing ---------------------------------------------------------------


def test_a_blank_card_waits_for_a_job_started_after_it_was_inserted(live, blank_card):
    holder = live.citizen()
    events = Events()
    events.hooks["waiting"] = lambda _event: live.start_job(holder)
    issued = desk_daemon(live, events, blank_card.reader).serve(blank_card.reader)
    assert issued is not None
    assert [c["serial"] for c in live.cards(holder)] == [issued["serial"]]


def test_a_card_issued_already_is_refused_without_taking_the_job(live, issued_card):
    job = live.start_job(live.citizen())
    events = Events()
    assert desk_daemon(live, events, issued_card.reader).serve(issued_card.reader) is None
    assert events.until("refused")["refused"] == "card_not_blank"
    assert (live.job(job["job_id"])["status"], live.job(job["job_id"])["attempts"]) == (
        "requested", 0)
