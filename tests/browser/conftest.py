"""The screens in a real browser against the real stack.

One stack serves every browser test of this test process: a private pcscd with two
vpcd readers (the kiosk's and the shop's), the hub under gunicorn on SQLite (the
demo's embedded default) with a synthetic city, and one reader daemon per screen with
its local bridge, all started through the same `satukartu` commands the demo uses.
Debian's Chromium is driven by Playwright (`executable_path`; Playwright's own browser
download cannot work here). Each test gets a fresh browser context and inserts and
removes the virtual card itself. Screenshots go to `test-output/screens/`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backend.demo import DEMO_PIN, Demo, _wait_http, pick_citizen, prepare, start_reader
from card_reader.stack import PrivatePcscd, VirtualCard, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screens"
LANGUAGES = ("id", "en", "th", "vi")
KIOSK_VIEWPORT = {"width": 1920, "height": 1080}
AGENT_VIEWPORT = {"width": 1366, "height": 900}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    demo: Demo
    pcscd: PrivatePcscd
    setup: dict[str, Any]
    citizen: dict[str, Any]
    card_state: Path
    database: Path

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

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.demo.instance.glob("*.log"))


def _bridge_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/state", timeout=1) as answer:  # noqa: S310
            return json.load(answer)["event"] == "state"
    except OSError:
        return False


@pytest.fixture(scope="session")
def stack(pcscd: PrivatePcscd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    instance = tmp_path_factory.mktemp("screens") / "instance"
    instance.mkdir()
    demo = Demo(instance=instance, bind=f"127.0.0.1:{_free_port()}", citizens=80)
    bridges = {"kiosk": f"http://127.0.0.1:{_free_port()}",
               "agent": f"http://127.0.0.1:{_free_port()}"}
    demo.env = {**{k: v for k, v in os.environ.items() if not k.startswith("SATUKARTU_")},
                **pcscd.env, "SATUKARTU_INSTANCE_DIR": str(instance),
                "SATUKARTU_ORIGIN": demo.origin, "PYTHONUNBUFFERED": "1",
                "SATUKARTU_READER_BRIDGE": bridges["kiosk"],
                "SATUKARTU_AGENT_READER_BRIDGE": bridges["agent"]}
    try:
        setup = prepare(demo)
        citizen = pick_citizen(demo)
        database = instance / "satukartu.db"
        with sqlite3.connect(database) as db:  # the scenario's citizen reads Indonesian
            db.execute("UPDATE citizens SET language = 'id' WHERE id = ?", (citizen["id"],))
        card = VirtualCard(pcscd, instance / "card.json", pcscd.readers[0]).insert()
        demo.satukartu("card", "issue", "--citizen", citizen["number"], "--reader",
                       pcscd.readers[0], "--pin", DEMO_PIN, "--json")
        card.remove()
        hub = demo.start("hub", "serve", "--bind", demo.bind, "--workers", "2")
        _wait_http(f"{demo.origin}/api/v1/health", 60, hub, instance / "hub.log")
        for screen, reader in (("kiosk", pcscd.readers[0]), ("agent", pcscd.readers[1])):
            start_reader(demo, f"reader-{screen}", setup[screen], reader, bridges[screen])
            wait_for(lambda b=bridges[screen]: _bridge_ready(b), 20, f"the {screen} bridge")
        yield Stack(demo, pcscd, setup, citizen, instance / "card.json", database)
    finally:
        demo.stop_all()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        print(f"chromium {chromium.version}")  # noqa: T201 - CI logs the browser's version
        yield chromium
        chromium.close()


@pytest.fixture
def kiosk_page(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context(viewport=KIOSK_VIEWPORT, locale="id-ID",
                                  accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def agent_page(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context(viewport=AGENT_VIEWPORT, locale="id-ID",
                                  accept_downloads=True)
    page = context.new_page()
    # Headless Chromium's PDF viewer crashes the page now and then when a receipt prints
    # itself in its frame; the frame gets a stand-in page, so the print still runs. The
    # receipt's PDF itself is fetched and read by the tests (page.request is not routed).
    page.route(re.compile(r".*/agent/receipt/\d+\.pdf$"), lambda route: route.fulfill(
        status=200, content_type="text/html", body="<p>receipt</p>"))
    yield page
    context.close()


@pytest.fixture
def kiosk_card(stack: Stack) -> Iterator[VirtualCard]:
    """The citizen's card, not yet inserted in the kiosk's reader; removed after (and
    open for taps again, whatever the test did to it)."""
    stack.sql("UPDATE cards SET tap_locked = 0, tap_locked_at = NULL")
    card = stack.card("kiosk")
    yield card
    if card.proc is not None:
        card.remove()


@pytest.fixture
def agent_card(stack: Stack) -> Iterator[VirtualCard]:
    card = stack.card("agent")
    yield card
    if card.proc is not None:
        card.remove()


def shoot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_nothing_stored(page: Any) -> None:
    """Nothing of the person in browser storage: localStorage empty; sessionStorage only
    htmx 2's record of the page's path (it writes it on every load, whatever its config)."""
    local, session = page.evaluate("[Object.assign({}, localStorage), "
                                   "Object.assign({}, sessionStorage)]")
    assert local == {}
    assert set(session) <= {"htmx-current-path-for-history"}
    assert all(value.startswith("/") and DEMO_PIN not in value for value in session.values())
