"""Issue 3's "Done when", end to end: a card issued into the virtual reader through real
pcscd by `satukartu card issue`, a tap and a PIN authentication by `satukartu reader
--once --json` against a live hub, and refusal after revocation or replacement."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from backend.app import create_app
from backend.db import database
from backend.identity import accounts
from backend.testing.registry import make_citizen

pytestmark = [pytest.mark.pcsc, pytest.mark.postgres]
SATUKARTU = str(Path(sys.executable).parent / "satukartu")
PIN = "135790"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveHub:
    url: str
    env: dict[str, str]
    client_id: str
    client_secret: str
    app: Flask

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([SATUKARTU, *args], env=self.env, capture_output=True, text=True,
                              timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"satukartu {' '.join(args)}: {done.stderr}")
        return done

    def read_card(self, reader: str, pin: str | None = None) -> tuple[int, dict]:
        args = ["reader", "--once", "--json", "--hub", self.url, "--client-id", self.client_id,
                "--client-secret", self.client_secret, "--kind", "kiosk", "--reader", reader]
        done = self.run(*args, *(["--pin", pin] if pin else []), check=False)
        return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])

    def issue(self, citizen_number: str, reader: str) -> dict:
        done = self.run("card", "issue", "--citizen", citizen_number, "--reader", reader,
                        "--pin", PIN, "--json")
        return json.loads(done.stdout)


@pytest.fixture
def live_hub(fresh_pg_url: str, instance_dir: Path, pcscd) -> Iterator[LiveHub]:
    """The hub on a fresh PostgreSQL database, served by werkzeug on a free loopback port,
    with its CA made by `satukartu ca init` and one registered kiosk."""
    port = _free_port()
    settings = {"DATABASE_URL": fresh_pg_url, "INSTANCE_DIR": str(instance_dir),
                "SECRET_KEY": "end-to-end-test-secret", "ORIGIN": f"http://127.0.0.1:{port}"}
    env = {**os.environ, **{f"SATUKARTU_{k}": v for k, v in settings.items()}}
    app = create_app(**settings)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with app.app_context(), database().transaction() as tx:
        row, secret = accounts.create_terminal(tx, kind="kiosk", name="end-to-end kiosk")
        client_id = row.client_id
    hub = LiveHub(settings["ORIGIN"], env, client_id, secret, app)
    hub.run("ca", "init", "--city", "Kota Uji")
    yield hub
    server.shutdown()
    thread.join(5)
    app.extensions["satukartu.db"].engine.dispose()


@pytest.fixture
def holder(live_hub: LiveHub) -> str:
    """A citizen in the live hub's registry; their national number."""
    with live_hub.app.app_context():
        return make_citizen(full_name="Dewi Lestari").national_number


def test_an_issued_card_opens_a_tap_session_through_pcscd(live_hub, holder, blank_card):
    issued = live_hub.issue(holder, blank_card.reader)
    code, answer = live_hub.read_card(blank_card.reader)
    assert code == 0, answer
    assert (answer["assurance"], answer["card_serial"]) == ("tap", issued["serial"])


def test_an_issued_card_opens_a_pin_session_with_the_chosen_pin(live_hub, holder, blank_card):
    live_hub.issue(holder, blank_card.reader)
    code, answer = live_hub.read_card(blank_card.reader, pin=PIN)
    assert code == 0, answer
    assert answer["assurance"] == "pin"


def test_a_revoked_card_is_refused_at_the_reader(live_hub, holder, blank_card):
    issued = live_hub.issue(holder, blank_card.reader)
    live_hub.run("card", "revoke", issued["serial"], "--reason", "keyCompromise")
    code, answer = live_hub.read_card(blank_card.reader)
    assert code != 0
    assert answer["refused"] == "card_revoked"


def test_a_suspended_card_is_refused_until_reinstated(live_hub, holder, blank_card):
    issued = live_hub.issue(holder, blank_card.reader)
    live_hub.run("card", "suspend", issued["serial"])
    assert live_hub.read_card(blank_card.reader)[1]["refused"] == "card_suspended"
    live_hub.run("card", "reinstate", issued["serial"])
    assert live_hub.read_card(blank_card.reader)[0] == 0


def test_a_replaced_card_is_refused_as_superseded(live_hub, holder, vcard_factory):
    old, new = vcard_factory(reader_index=0), vcard_factory(reader_index=1)
    first = live_hub.issue(holder, old.reader)
    second = live_hub.issue(holder, new.reader)
    assert second["replaced"] == [first["serial"]]
    assert live_hub.read_card(old.reader)[1]["refused"] == "card_superseded"
    assert live_hub.read_card(new.reader)[0] == 0


def test_issuing_onto_a_card_that_is_not_blank_fails_without_a_record(live_hub, holder,
                                                                      blank_card):
    live_hub.issue(holder, blank_card.reader)
    done = live_hub.run("card", "issue", "--citizen", holder, "--reader", blank_card.reader,
                        "--json", check=False)
    assert done.returncode != 0
    assert "blank card" in done.stderr


def test_a_blocked_pin_is_reset_at_a_counter_with_the_puk(live_hub, holder, blank_card):
    issued = live_hub.issue(holder, blank_card.reader)
    for _ in range(3):
        live_hub.read_card(blank_card.reader, pin="000000")
    assert live_hub.read_card(blank_card.reader, pin=PIN)[0] != 0  # blocked now
    with live_hub.app.app_context(), database().transaction() as tx:
        accounts.create_staff(tx, username="clerk.ani", role="clerk")
    live_hub.run("card", "unblock-pin", "--reader", blank_card.reader, "--clerk", "clerk.ani",
                 "--puk", issued["puk"], "--new-pin", "864200")
    code, answer = live_hub.read_card(blank_card.reader, pin="864200")
    assert code == 0 and answer["assurance"] == "pin"


def test_a_wrong_puk_unblocks_nothing(live_hub, holder, blank_card):
    live_hub.issue(holder, blank_card.reader)
    with live_hub.app.app_context(), database().transaction() as tx:
        accounts.create_staff(tx, username="clerk.budi", role="clerk")
    done = live_hub.run("card", "unblock-pin", "--reader", blank_card.reader, "--clerk",
                        "clerk.budi", "--puk", "00000000", "--new-pin", "864200", check=False)
    assert done.returncode != 0 and "wrong PUK" in done.stderr
    assert live_hub.read_card(blank_card.reader, pin="864200")[0] != 0


def test_card_replace_issues_a_new_card_and_revokes_the_lost_one(live_hub, holder,
                                                                 vcard_factory):
    lost, new = vcard_factory(reader_index=0), vcard_factory(reader_index=1)
    first = live_hub.issue(holder, lost.reader)
    done = live_hub.run("card", "replace", first["serial"], "--reader", new.reader,
                        "--reason", "keyCompromise", "--pin", PIN, "--json")
    assert json.loads(done.stdout)["replaced"] == [first["serial"]]
    assert live_hub.read_card(lost.reader)[1]["refused"] == "card_revoked"
    assert live_hub.read_card(new.reader)[0] == 0
