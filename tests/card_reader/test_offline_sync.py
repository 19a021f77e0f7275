"""An agent's offline queue: durable across a kill, its counter never repeated, sent
once the hub answers again (a refused item set aside, a failing round retried), and the
link as the screen hears it. Real pcscd and virtual card, the stub hub over HTTP."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys

import pytest

from card_reader.offline.queue import OfflineQueue
from card_reader.offline.trust import BundleStore
from card_reader.offline_wire import (
    OfflineRedemption,
    OfflineWireError,
    SignedRedemption,
)
from tests.card_reader.bridge_page import ORIGIN, call, wait_until
from tests.card_reader.offline_agent import TERMINAL, offline_agent
from tests.card_reader.stub_hub import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.pcsc


CRASH = """
import os, signal, sys
from card_reader.client import PivSession
from card_reader.offline.queue import OfflineQueue
from card_reader.offline.trust import BundleStore, Trust
from card_reader.offline_wire import OfflineRedemption, SignedRedemption
queue = OfflineQueue(sys.argv[1])
for _ in range(3):
    counter = queue.next_counter(10)
    r = OfflineRedemption(os.urandom(16).hex(), "agent-1", counter, "food", "groceries",
                          1000, None, "2026-01-01T00:00:00Z", "ab", 7)
    queue.enqueue(SignedRedemption(r, b"cert", b"sig"), "2026-01-01")
queue.next_counter(10)  # drawn, then the power goes
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_queue_survives_a_kill_and_its_counter_never_repeats(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(tmp_path)], env=env,
                             timeout=30, check=False)
    assert crashed.returncode == -signal.SIGKILL
    queue = OfflineQueue(tmp_path)
    try:
        # A SIGKILL leaves the OS's page cache to write the file anyway: only these
        # settings make a power cut as harmless (each commit synced, through the WAL).
        assert queue._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert queue._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert [SignedRedemption.from_dict(i).redemption.counter
                for i in queue.pending(50)] == [11, 12, 13]
        assert queue.spent("2026-01-01", "food", "ab").card == 3000
        assert queue.next_counter(10) == 15
    finally:
        queue.close()


def _redemption_dict(**fields) -> dict:
    return {**OfflineRedemption("ab" * 16, TERMINAL, 1, "food", "groceries", 1000, None,
                                "2026-01-01T00:00:00Z", "ab", 7).to_dict(), **fields}


def test_a_crl_number_fits_the_hubs_32_bit_column():
    assert OfflineRedemption.from_dict(_redemption_dict(crl_number=2**31 - 1)).crl_number \
        == 2**31 - 1
    with pytest.raises(OfflineWireError):
        OfflineRedemption.from_dict(_redemption_dict(crl_number=2**31))


def test_a_counter_may_still_reach_two_to_the_53():
    assert OfflineRedemption.from_dict(_redemption_dict(counter=2**53)).counter == 2**53


# --- syncing --------------------------------------------------------------------------


def test_sync_posts_each_queued_redemption_once_and_marks_it(city_card, agent, hub, pki,
                                                             caplog):
    caplog.set_level(logging.INFO, logger="card_reader.offline.link")
    running = offline_agent(agent, hub, pki)
    keys = [running.redeem(city_card.pin, 10_000)[1]["key"] for _ in range(2)]
    hub.bundle = pki.bundle(hub.url)
    hub.down = False
    assert wait_until(lambda: running.offline.queue.queued() == 0)
    assert wait_until(lambda: running.overview()["online"])
    sent = [item["redemption"]["key"] for batch in hub.batches for item in batch]
    assert sent == keys
    assert all(running.offline.queue.result(k).status == "posted" for k in keys)
    synced = [(r.key, r.status) for r in caplog.records
              if getattr(r, "event", None) == "offline_synced"]
    assert synced == [(k, "posted") for k in keys]
    rounds = hub.offline_posts
    assert wait_until(lambda: hub.offline_posts > rounds, timeout=1) is False  # nothing left


def test_a_hub_answering_503_leaves_the_queue_for_a_later_round(city_card, agent, hub, pki):
    running = offline_agent(agent, hub, pki)
    key = running.redeem(city_card.pin, 10_000)[1]["key"]
    hub.unavailable = 3  # the first round's POST and its two retries
    hub.down = False
    assert wait_until(lambda: hub.offline_posts >= 3)
    assert wait_until(lambda: running.offline.queue.queued() == 0)
    assert hub.offline_posts == 4
    assert [item["redemption"]["key"] for batch in hub.batches for item in batch] == [key]


def test_an_item_the_hub_refuses_is_set_aside_and_the_others_are_posted(
        city_card, agent, hub, pki, caplog):
    caplog.set_level(logging.INFO, logger="card_reader.offline.link")
    running = offline_agent(agent, hub, pki)
    keys = [running.redeem(city_card.pin, 10_000)[1]["key"] for _ in range(3)]
    hub.malformed = {keys[1]}
    hub.bundle = pki.bundle(hub.url)
    hub.down = False
    assert wait_until(lambda: running.offline.queue.queued() == 0)
    assert set(hub.results) == {keys[0], keys[2]}
    queue = running.offline.queue
    assert [queue.result(k).status for k in keys] == ["posted", "refused", "posted"]
    assert queue.result(keys[1]).reason == "redemption_malformed"
    [aside] = [r for r in caplog.records if getattr(r, "event", None) == "offline_set_aside"]
    assert (aside.levelno, aside.key, aside.reason) == (
        logging.WARNING, keys[1], "redemption_malformed")
    rounds = hub.offline_posts
    assert wait_until(lambda: hub.offline_posts > rounds, timeout=1) is False  # not re-sent


def test_a_batch_the_hub_fails_with_a_5xx_stays_whole_and_queued_for_later_rounds(
        city_card, agent, hub, pki):
    running = offline_agent(agent, hub, pki)
    keys = [running.redeem(city_card.pin, 10_000)[1]["key"] for _ in range(2)]
    hub.unavailable = 6  # two rounds: each the POST and its two retries
    hub.down = False
    assert wait_until(lambda: running.offline.queue.queued() == 0)
    assert hub.offline_posts == 7
    assert [[item["redemption"]["key"] for item in batch] for batch in hub.batches] == [keys]
    assert all(running.offline.queue.result(k).status == "posted" for k in keys)


def test_a_token_the_hub_no_longer_knows_is_fetched_again_and_the_queue_sent(
        city_card, client, agent, hub, pki):
    client.sign_in()  # a token held from before the cut...
    running = offline_agent(agent, hub, pki)
    key = running.redeem(city_card.pin, 10_000)[1]["key"]
    hub.token = "terminal-token-2"  # ...that the hub forgot (it was restarted)
    hub.down = False
    assert wait_until(lambda: running.offline.queue.queued() == 0)
    assert running.offline.queue.result(key).status == "posted"


# --- what the screen hears --------------------------------------------------------------


def test_a_card_inserted_offline_gives_inserted_offline_and_no_hub_call(
        city_card, agent, hub, pki):
    city_card.card.remove()
    running = offline_agent(agent, hub, pki)
    stream = running.stream()
    assert stream.next()[1]["link"]["online"] is False
    city_card.card.insert()
    assert stream.next_of("inserted")[1] == {"event": "inserted",
                                             "reader": city_card.reader, "offline": True}
    assert not stream.seen("session", timeout=1) and not stream.seen("refused", timeout=0)
    assert hub.calls == []


def test_link_events_follow_the_hub_going_and_coming_back(agent, hub, pki):
    hub.bundle = pki.bundle(hub.url)
    running = agent()
    stream = running.stream()
    assert stream.next()[1]["link"]["online"] is True
    hub.down = True
    assert stream.next_of("link")[1]["online"] is False
    hub.down = False
    assert stream.next_of("link")[1] == {"event": "link", "online": True, "queued": 0,
                                         "syncing": False, "offline_ready": True}


# --- `satukartu reader --kind agent`, as a process ----------------------------------------

DAEMON = "from card_reader.cli import reader_command; reader_command()"


def start_daemon(hub, directory, port: int, kind: str = "agent") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "SATUKARTU_TERMINAL_CLIENT_ID": CLIENT_ID,
           "SATUKARTU_TERMINAL_CLIENT_SECRET": CLIENT_SECRET,
           "SATUKARTU_READER_OFFLINE_DIR": str(directory),
           "SATUKARTU_READER_LINK_INTERVAL": "0.5"}
    proc = subprocess.Popen([sys.executable, "-c", DAEMON, "--hub", hub.url, "--kind", kind,
                             "--bridge", f"127.0.0.1:{port}", "--bridge-origin", ORIGIN],
                            env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: _answers(url), timeout=15), "the daemon's bridge did not start"
    return proc


def _answers(url: str) -> bool:
    try:
        return call(url, "GET", "/state").status == 200
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_agent_daemon_killed_keeps_its_queue_and_never_repeats_a_counter(
        city_card, hub, pki, tmp_path):
    hub.down = True
    directory = tmp_path / "offline"
    directory.mkdir()
    BundleStore(directory).save(pki.bundle(hub.url, counter=5))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    body = {"pin": city_card.pin, "programme": "food", "purse": "groceries",
            "amount": 10_000, "category": "rice"}
    proc = start_daemon(hub, directory, port)
    try:
        assert wait_until(lambda: call(url, "GET", "/state").body["card"])
        first = call(url, "POST", "/offline/redeem", body).body
        assert first["counter"] == 6
        proc.kill()  # SIGKILL: no clean shutdown of the queue
        proc.wait(10)
        proc = start_daemon(hub, directory, port)
        assert call(url, "GET", "/offline").body["queued"] == 1
        assert wait_until(lambda: call(url, "GET", "/state").body["card"])
        second = call(url, "POST", "/offline/redeem", body).body
        assert (second["counter"], second["queued_count"]) == (7, 2)
    finally:
        proc.kill()
        proc.wait(10)


def test_a_kiosk_daemon_has_no_offline_mode(pcscd, hub, tmp_path):
    port = _free_port()
    proc = start_daemon(hub, tmp_path / "offline", port, kind="kiosk")
    try:
        url = f"http://127.0.0.1:{port}"
        assert call(url, "GET", "/offline").status == 404
        assert "link" not in call(url, "GET", "/state").body
    finally:
        proc.terminate()
        proc.wait(10)
