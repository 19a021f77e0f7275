"""The screens' stack, for the browser tests and the screens' benchmark.

A private pcscd's two vpcd readers (the kiosk's and the shop's), the hub under
gunicorn on SQLite (the demo's embedded default) with a synthetic city, a Celery
worker on the embedded broker (bulk work), and one reader daemon per screen with its
local bridge, all started through the same `satukartu` commands the demo uses. The
counter's and the enrolment desk's daemons take the shop's reader for a while.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.demo import (
    DEMO_PIN,
    Demo,
    _wait_http,
    pick_citizen,
    prepare,
    start_desk,
    start_reader,
    wait_bridge,
)
from card_reader.stack import PrivatePcscd, VirtualCard


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    demo: Demo
    pcscd: PrivatePcscd
    setup: dict[str, Any]
    citizen: dict[str, Any]
    card_state: Path
    database: Path
    bridges: dict[str, str] = field(default_factory=dict)
    readers: dict[str, subprocess.Popen] = field(default_factory=dict)
    issued: dict[str, Any] = field(default_factory=dict)  # the card's serial, PIN, PUK

    @property
    def origin(self) -> str:
        return self.demo.origin

    def card(self, screen: str) -> VirtualCard:
        """The citizen's card, to insert into the kiosk's or the shop's reader."""
        reader = self.pcscd.readers[0 if screen == "kiosk" else 1]
        return VirtualCard(self.pcscd, self.card_state, reader)

    def sql(self, statement: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.database) as db:
            rows = db.execute(statement, params).fetchall()
        return rows

    def staff_read(self, purpose: str) -> None:
        """The admin reads the citizen's record through the API, as an office would."""
        login = urllib.request.Request(
            f"{self.origin}/api/v1/auth/staff/login", method="POST",
            data=json.dumps({"username": "admin",
                             "password": self.setup["admin_password"]}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login, timeout=10) as answer:
            token = json.load(answer)["access_token"]
        read = urllib.request.Request(
            f"{self.origin}/api/v1/citizens/{self.citizen['id']}?"
            + urllib.parse.urlencode({"purpose": purpose}),
            headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(read, timeout=10):
            pass

    @contextmanager
    def counter_reader(self) -> Iterator[VirtualCard]:
        """The counter's reader daemon and bridge for a while, on the shop's reader (the
        tests' pcscd has two readers): the shop's daemon stops meanwhile and comes back
        after. Yields the citizen's card for that reader."""
        with self._shop_reader_lent():
            counter = start_reader(self.demo, "reader-counter", self.setup["counter"],
                                   self.pcscd.readers[1], self.bridges["counter"])
            try:
                wait_bridge(self.bridges["counter"], 30, counter,
                            self.demo.instance / "reader-counter.log")
                yield self.card("agent")
            finally:
                _stop(counter)

    @contextmanager
    def desk_reader(self, state: Path) -> Iterator[VirtualCard]:
        """The enrolment desk's daemon for a while, on the shop's reader, writing jobs
        with the demo PIN. Yields a blank card (its state in `state`) for that reader,
        not yet inserted; the desk's events are in reader-desk.log."""
        with self._shop_reader_lent():
            desk = start_desk(self.demo, self.setup["desk"], self.pcscd.readers[1],
                              pin=DEMO_PIN)
            try:
                yield VirtualCard(self.pcscd, state, self.pcscd.readers[1])
            finally:
                _stop(desk)

    @contextmanager
    def _shop_reader_lent(self) -> Iterator[None]:
        _stop(self.readers.pop("agent"))
        try:
            yield
        finally:
            self.readers["agent"] = _start_screen_reader(self.demo, self.setup, "agent",
                                                         self.pcscd.readers[1], self.bridges)

    @contextmanager
    def hub_stopped(self) -> Iterator[None]:
        """The hub down for a while, as when the shop's link is cut: its gunicorn stops
        (the pages already shown stay in the browser, the daemons stay up), and comes
        back on the same address after."""
        hub = next(proc for name, proc in reversed(self.demo.procs) if name == "hub")
        _stop(hub)
        try:
            yield
        finally:
            _start_hub(self.demo)

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.demo.instance.glob("*.log"))


def _start_hub(demo: Demo) -> subprocess.Popen:
    hub = demo.start("hub", "serve", "--bind", demo.bind, "--workers", "2")
    _wait_http(f"{demo.origin}/api/v1/health", 60, hub, demo.instance / "hub.log")
    return hub


# The shop's daemon notices a cut link within a second here (a shop's default is slower).
AGENT_READER_ENV = {"SATUKARTU_READER_LINK_INTERVAL": "0.5"}


def _start_screen_reader(demo: Demo, setup: dict[str, Any], screen: str, reader: str,
                         bridges: dict[str, str]) -> subprocess.Popen:
    """One screen's reader daemon, its bridge answering; the shop's keeps its offline
    queue in the instance, so it outlives a restart of the daemon."""
    env = {**AGENT_READER_ENV, "SATUKARTU_READER_OFFLINE_DIR":
           str(demo.instance / "offline-agent")} if screen == "agent" else None
    proc = start_reader(demo, f"reader-{screen}", setup[screen], reader, bridges[screen],
                        env=env)
    wait_bridge(bridges[screen], 30, proc, demo.instance / f"reader-{screen}.log")
    return proc


def _stop(proc: subprocess.Popen) -> None:
    """End a reader daemon as the demo does at its end (its sessions are logged out)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)


def start_own_pcscd(workdir: Path) -> PrivatePcscd:
    """A private pcscd for a process of its own (the benchmark, the namespaced kiosk):
    this process's PC/SC calls, and its children's, go to it from now on."""
    (workdir / "pcscd").mkdir(parents=True)
    pcscd = PrivatePcscd(workdir / "pcscd")
    os.environ.update(pcscd.env)
    pcscd.start()
    return pcscd


@contextmanager
def running_stack(pcscd: PrivatePcscd, instance: Path, citizens: int = 80,
                  hub_host: str = "127.0.0.1") -> Iterator[Stack]:
    """Everything started, and stopped again on leaving; the hub listens on `hub_host`
    (the readers' bridges always on loopback, as on a kiosk PC)."""
    instance.mkdir(parents=True)
    demo = Demo(instance=instance, bind=f"{hub_host}:{_free_port(hub_host)}",
                citizens=citizens)
    bridges = {"kiosk": f"http://127.0.0.1:{_free_port()}",
               "agent": f"http://127.0.0.1:{_free_port()}",
               "counter": f"http://127.0.0.1:{_free_port()}"}
    demo.env = {**{k: v for k, v in os.environ.items() if not k.startswith("SATUKARTU_")},
                **pcscd.env, "SATUKARTU_INSTANCE_DIR": str(instance),
                "SATUKARTU_ORIGIN": demo.origin, "PYTHONUNBUFFERED": "1",
                "SATUKARTU_READER_BRIDGE": bridges["kiosk"],
                "SATUKARTU_AGENT_READER_BRIDGE": bridges["agent"],
                "SATUKARTU_COUNTER_READER_BRIDGE": bridges["counter"]}
    try:
        setup = prepare(demo)
        citizen = pick_citizen(demo)
        database = instance / "satukartu.db"
        with sqlite3.connect(database) as db:  # the scenario's citizen reads Indonesian
            db.execute("UPDATE citizens SET language = 'id' WHERE id = ?", (citizen["id"],))
        card = VirtualCard(pcscd, instance / "card.json", pcscd.readers[0]).insert()
        issued = json.loads(demo.satukartu(
            "card", "issue", "--citizen", citizen["number"], "--reader", pcscd.readers[0],
            "--pin", DEMO_PIN, "--json"))
        card.remove()
        _start_hub(demo)
        demo.start("worker", "worker", "--concurrency", "1")
        readers = {screen: _start_screen_reader(demo, setup, screen, reader, bridges)
                   for screen, reader in (("kiosk", pcscd.readers[0]),
                                          ("agent", pcscd.readers[1]))}
        yield Stack(demo, pcscd, setup, citizen, instance / "card.json", database,
                    bridges, readers, issued)
    finally:
        demo.stop_all()
