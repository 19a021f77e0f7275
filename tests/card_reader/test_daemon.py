"""The reader daemon and `satukartu reader --once` against a hub over HTTP."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from click.testing import CliRunner
from cryptography import x509

from card_reader import piv as p
from card_reader.cli import reader_command
from card_reader.client import PivSession
from card_reader.daemon import ReaderDaemon, run_once
from card_reader.hub_client import HubClient, HubRefusal
from card_reader.pcsc import PcscConnection, StatusWatcher
from tests.card_reader.stub_hub import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.pcsc


def once(client, **kwargs) -> tuple[int, dict]:
    out = io.StringIO()
    code = run_once(client, out=out, **kwargs)
    return code, json.loads(out.getvalue())


def test_tap_gives_a_tap_session(issued_card, client):
    code, session = once(client)
    assert code == 0 and session["assurance"] == "tap" and session["session_token"]


def test_pin_gives_a_pin_session(issued_card, client):
    code, session = once(client, pin=issued_card.pin)
    assert code == 0 and session["assurance"] == "pin"


def test_pin_login_does_not_outlive_the_authentication(issued_card, client):
    assert once(client, pin=issued_card.pin)[0] == 0
    with PcscConnection(issued_card.reader) as conn:
        session = PivSession(conn)
        session.select()
        assert session.pin_attempts_remaining() == 3  # not verified any more
        with pytest.raises(p.SecurityStatusError):
            session.sign_digest(p.Slot.AUTHENTICATION, b"\x01" * 32)


def test_wrong_pin_is_refused_with_attempts_left(issued_card, client):
    code, out = once(client, pin="999999")
    assert code == 1 and out == {"refused": "pin_invalid", "attempts_remaining": 2}


def test_hub_refusal_reason_is_surfaced(issued_card, client, hub):
    cert = x509.load_der_x509_certificate(issued_card.issued.certificates[p.Slot.CARD_AUTH])
    hub.revoked.add(cert.serial_number)
    assert once(client) == (1, {"refused": "card_revoked"})


def test_no_card_is_refused(pcscd, client):
    assert once(client) == (1, {"refused": "no_card"})


def test_blank_card_is_not_issued(blank_card, client):
    assert once(client) == (1, {"refused": "card_not_issued"})


def test_wrong_terminal_secret_is_invalid_client(hub):
    with pytest.raises(HubRefusal) as info:
        HubClient(hub.url, CLIENT_ID, "wrong").challenge()
    assert info.value.reason == "invalid_client"


def test_unreachable_hub_is_hub_unavailable(issued_card):
    bad = HubClient("http://127.0.0.1:9", CLIENT_ID, CLIENT_SECRET, timeout=1)
    assert once(bad) == (1, {"refused": "hub_unavailable"})


def test_cli_reader_once_json_prints_the_session(issued_card, hub, monkeypatch):
    monkeypatch.setenv("SATUKARTU_TERMINAL_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SATUKARTU_TERMINAL_CLIENT_SECRET", CLIENT_SECRET)
    result = CliRunner().invoke(reader_command, ["--once", "--json", "--hub", hub.url,
                                                 "--pin", issued_card.pin])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["assurance"] == "pin"


def test_daemon_opens_a_session_on_insert_and_ends_it_on_removal(issued_card, client, hub):
    events: list[dict] = []
    issued_card.card.remove()
    daemon = ReaderDaemon(client, sink=events.append, watcher=StatusWatcher(poll=0.5))
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        issued_card.card.insert()
        session = wait_for(events, "session")
        assert session["assurance"] == "tap" and session["reader"] == issued_card.reader
        issued_card.card.remove()
        wait_for(events, "session_ended")
        deadline = time.monotonic() + 5
        while session["session_token"] not in hub.logouts and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hub.logouts == [session["session_token"]]
    finally:
        daemon.stop()
        thread.join(5)


def test_daemon_uses_the_pin_provider_for_9a(issued_card, client):
    events: list[dict] = []
    issued_card.card.remove()
    daemon = ReaderDaemon(client, sink=events.append, watcher=StatusWatcher(poll=0.5),
                          pin_provider=lambda reader: issued_card.pin)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        issued_card.card.insert()
        assert wait_for(events, "session")["assurance"] == "pin"
    finally:
        daemon.stop()
        thread.join(5)


def wait_for(events: list[dict], kind: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in events:
            if event["event"] == kind:
                return event
        time.sleep(0.02)
    raise AssertionError(f"no {kind} event in {events}")
