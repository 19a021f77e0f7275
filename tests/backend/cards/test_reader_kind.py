"""`satukartu reader` against a live hub with a counter's credentials, as an operator runs
it: the secret from the environment (never on the command line), and no --kind, so the
token request asks for no scope and the hub grants the terminal its own kind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.testing.registry import make_citizen
from card_reader.hub_client import HubClient, HubRefusal
from tests.reliability.faults.livehub import (
    LiveHub,
    init_card_ca,
    issue_virtual_card,
    register_terminal,
    serve,
)

pytestmark = [pytest.mark.pcsc, pytest.mark.postgres]
SATUKARTU = str(Path(sys.executable).parent / "satukartu")
PIN = "246810"


@pytest.fixture
def hub(fresh_pg_url: str, instance_dir: Path) -> Iterator[LiveHub]:
    running = serve(fresh_pg_url, instance_dir)
    init_card_ca(running.app)
    yield running
    running.close()


@pytest.fixture
def counter(hub: LiveHub):
    return register_terminal(hub.app, "counter")


def _reader_once(hub: LiveHub, counter, reader: str, *args: str) -> tuple[int, dict]:
    env = {**os.environ, "SATUKARTU_HUB_URL": hub.url,
           "SATUKARTU_TERMINAL_CLIENT_ID": counter.client_id,
           "SATUKARTU_TERMINAL_CLIENT_SECRET": counter.client_secret}
    env.pop("SATUKARTU_TERMINAL_KIND", None)
    done = subprocess.run([SATUKARTU, "reader", "--once", "--json", "--reader", reader, *args],
                          env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def card_in_reader(hub: LiveHub, blank_card) -> tuple[str, str]:
    """A card issued by the hub, in the reader: (reader, serial)."""
    with hub.app.app_context():
        holder = make_citizen(full_name="Dewi Lestari")
    return blank_card.reader, issue_virtual_card(hub.app, blank_card.reader, holder, PIN)


def test_a_counters_credentials_without_a_kind_open_a_session_at_the_counter(
        hub, counter, card_in_reader):
    reader, serial = card_in_reader
    code, answer = _reader_once(hub, counter, reader)
    assert code == 0, answer
    assert answer["card_serial"] == serial
    status = hub.http.get(hub.url + "/api/v1/auth/session", timeout=10,
                          headers={"Authorization": f"Bearer {answer['session_token']}"})
    assert status.json()["terminal_id"] == counter.terminal_id


def test_a_kind_given_is_still_asked_for_and_another_kind_is_refused(hub, counter,
                                                                     card_in_reader):
    code, answer = _reader_once(hub, counter, card_in_reader[0], "--kind", "kiosk")
    assert code == 1
    assert answer["refused"] == "invalid_scope"


def test_the_client_learns_its_kind_from_the_token_when_it_asks_for_none(hub, counter):
    client = HubClient(hub.url, counter.client_id, counter.client_secret, timeout=10)
    try:
        assert client.kind == "counter"
        assert client.challenge().nonce
    finally:
        client.close()


def test_a_wrong_kind_asked_by_the_client_is_refused_as_invalid_scope(hub, counter):
    client = HubClient(hub.url, counter.client_id, counter.client_secret, scope="kiosk",
                       timeout=10)
    try:
        with pytest.raises(HubRefusal) as refused:
            client.sign_in()
        assert refused.value.reason == "invalid_scope"
    finally:
        client.close()
