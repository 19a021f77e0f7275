"""An agent's offline redemptions: the card judged and signing at the daemon while the
hub is away, the caps, the durable queue, the sync once the hub answers again, and
what the screen hears. Real pcscd and virtual card, the stub hub over HTTP."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from card_reader.client import PivSession
from card_reader.offline.queue import OfflineQueue
from card_reader.offline.trust import BundleStore, Trust
from card_reader.offline_wire import (
    OfflineProgramme,
    OfflineRedemption,
    OfflineWireError,
    SignedRedemption,
)
from tests.card_reader.bridge_page import FOREIGN, ORIGIN, call, wait_until
from tests.card_reader.offline_agent import TERMINAL, Agent, CityPki, nine_a_serial
from tests.card_reader.stub_hub import CLIENT_ID, CLIENT_SECRET
from tests.pcsc_fixtures import issue_card

pytestmark = pytest.mark.pcsc


@pytest.fixture(scope="module")
def pki() -> CityPki:
    return CityPki.create()


@pytest.fixture
def city_card(blank_card, pki):
    """A card whose certificates the city's issuing CA (under its root) signed."""
    return issue_card(blank_card, pki.issuing)


@pytest.fixture
def agent(client, tmp_path):
    agents: list[Agent] = []

    def make(bundle=None) -> Agent:
        made = Agent(client, tmp_path / "offline", bundle)
        agents.append(made)
        return made.start()

    yield make
    for each in agents:
        each.stop()


def offline_agent(agent, hub, pki, **bundle_args) -> Agent:
    """The hub stopped; the agent holds the bundle it fetched before."""
    hub.down = True
    return agent(pki.bundle(hub.url, **bundle_args))


# --- redeeming offline --------------------------------------------------------------


def test_an_offline_redemption_is_queued_with_the_cards_signature_over_its_digest(
        city_card, agent, hub, pki):
    running = offline_agent(agent, hub, pki, counter=41)
    status, body = running.redeem(city_card.pin, 25_000)
    assert status == 200, body
    assert body["queued"] is True and body["counter"] == 42 and body["amount"] == 25_000
    assert body["queued_count"] == 1 and body["card_left_today"] == 75_000
    [item] = running.offline.queue.pending(50)
    signed = SignedRedemption.from_dict(item)
    redemption = signed.redemption
    assert redemption.key == body["key"] and redemption.terminal == TERMINAL
    assert redemption.card_serial == f"{nine_a_serial(city_card):x}"
    assert redemption.crl_number == 7 and redemption.category == "rice"
    cert = x509.load_der_x509_certificate(signed.certificate)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(signed.signature, redemption.digest(hub.url),
               ec.ECDSA(Prehashed(hashes.SHA256())))
    assert running.overview()["queued"] == 1
    assert "246810" not in running.stdout.getvalue()


def test_a_wrong_pin_is_refused_with_the_attempts_left(city_card, agent, hub, pki):
    running = offline_agent(agent, hub, pki)
    assert running.redeem("999999") == (403, {"refused": "pin_invalid",
                                              "attempts_remaining": 2})
    assert running.offline.queue.queued() == 0


def test_a_card_on_the_crl_is_refused_as_revoked(city_card, agent, hub, pki):
    crl = pki.crl(revoked=(nine_a_serial(city_card),))
    running = offline_agent(agent, hub, pki, crl=crl)
    assert running.redeem(city_card.pin) == (403, {"refused": "card_revoked"})


def test_a_card_of_another_ca_is_untrusted(issued_card, agent, hub, pki):
    running = offline_agent(agent, hub, pki)
    assert running.redeem(issued_card.pin) == (403, {"refused": "card_untrusted"})


def test_a_crl_past_its_next_update_and_the_grace_is_not_ready(city_card, agent, hub, pki):
    stale = pki.crl(next_update=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25))
    running = offline_agent(agent, hub, pki, crl=stale, grace_hours=24)
    assert running.overview()["offline_ready"] is False
    assert running.redeem(city_card.pin) == (503, {"refused": "offline_not_ready"})


def test_a_crl_issued_in_the_daemons_future_means_its_clock_is_wrong(pki):
    now = dt.datetime.now(dt.UTC)
    ahead = pki.crl(last_update=now + dt.timedelta(minutes=10),
                    next_update=now + dt.timedelta(hours=34))
    trust = Trust(pki.bundle("https://hub.example", crl=ahead))
    assert trust.ready(now) is False
    assert trust.ready(now + dt.timedelta(minutes=6)) is True


def test_a_crl_issued_a_little_ahead_of_the_daemons_clock_is_tolerated(pki):
    now = dt.datetime.now(dt.UTC)
    ahead = pki.crl(last_update=now + dt.timedelta(minutes=4),
                    next_update=now + dt.timedelta(hours=28))
    assert Trust(pki.bundle("https://hub.example", crl=ahead)).ready(now) is True


def test_a_daemon_behind_its_crl_refuses_to_redeem_as_not_ready(city_card, agent, hub, pki):
    now = dt.datetime.now(dt.UTC)
    ahead = pki.crl(last_update=now + dt.timedelta(hours=1),
                    next_update=now + dt.timedelta(hours=25))
    running = offline_agent(agent, hub, pki, crl=ahead)
    assert running.overview()["offline_ready"] is False
    assert running.redeem(city_card.pin) == (503, {"refused": "offline_not_ready"})


def test_the_cards_day_cap_refuses_with_the_cap_and_what_it_spent(city_card, agent, hub, pki):
    running = offline_agent(agent, hub, pki, card_daily_cap=50_000)
    assert running.redeem(city_card.pin, 30_000)[0] == 200
    assert running.redeem(city_card.pin, 30_000) == (409, {
        "refused": "offline_card_cap_exceeded", "cap": 50_000, "spent": 30_000})


def test_the_agents_day_cap_refuses_with_the_cap_and_what_it_took(city_card, agent, hub, pki):
    running = offline_agent(agent, hub, pki, agent_daily_cap=50_000)
    assert running.redeem(city_card.pin, 30_000)[0] == 200
    assert running.redeem(city_card.pin, 30_000) == (409, {
        "refused": "offline_agent_cap_exceeded", "cap": 50_000, "spent": 30_000})
    assert running.overview()["agent_spent_today"] == 30_000


def test_each_programme_has_its_own_day_caps(city_card, agent, hub, pki):
    bundle = pki.bundle(hub.url, card_daily_cap=30_000, agent_daily_cap=30_000)
    fares = OfflineProgramme("transport", "fares", {"en": "Bus fares"}, (), 30_000, 30_000,
                             50_000)
    hub.down = True
    running = agent(dataclasses.replace(bundle, programmes=(*bundle.programmes, fares)))
    assert running.redeem(city_card.pin, 20_000)[0] == 200
    status, body = running.redeem(city_card.pin, 20_000, programme="transport",
                                  purse="fares", category=None)
    assert (status, body.get("card_left_today")) == (200, 10_000), body
    assert running.redeem(city_card.pin, 20_000) == (409, {
        "refused": "offline_card_cap_exceeded", "cap": 30_000, "spent": 20_000})
    assert running.overview()["agent_spent_today"] == 40_000  # the screen's sum of all


def test_an_amount_above_the_per_redemption_cap_is_refused(city_card, agent, hub, pki):
    running = offline_agent(agent, hub, pki, max_redemption=20_000)
    assert running.redeem(city_card.pin, 20_001) == (409, {"refused": "amount_above_cap",
                                                           "cap": 20_000})


def test_a_purse_not_redeemed_offline_is_not_allowed(city_card, agent, hub, pki):
    running = offline_agent(agent, hub, pki)
    assert running.redeem(city_card.pin, purse="cash")[0:2] == (
        400, {"refused": "offline_not_allowed"})


def test_while_the_hub_answers_the_agent_redeems_online(city_card, agent, hub, pki):
    hub.bundle = pki.bundle(hub.url)
    running = agent()
    assert wait_until(lambda: running.overview()["offline_ready"])
    assert running.redeem(city_card.pin) == (409, {"refused": "link_online"})


def test_with_no_card_in_the_reader_there_is_nothing_to_redeem(city_card, agent, hub, pki):
    city_card.card.remove()
    running = offline_agent(agent, hub, pki)
    assert running.redeem(city_card.pin, card=False) == (409, {"refused": "no_card"})


@pytest.mark.parametrize("fields, refusal", [
    ({"amount": 0}, (400, {"refused": "amount_invalid"})),
    ({"amount": "25000"}, (400, {"refused": "amount_invalid"})),
    ({"programme": "Food; drop"}, (400, {"refused": "request_malformed"})),
    ({"pin": "12ab"}, (400, {"refused": "pin_format"})),
])
def test_a_request_of_the_wrong_shape_is_refused_before_the_card(
        city_card, agent, hub, pki, fields, refusal):
    running = offline_agent(agent, hub, pki)
    pin = fields.pop("pin", city_card.pin)
    assert running.redeem(pin, card=False, **fields) == refusal
    assert running.offline.queue.queued() == 0


def test_only_the_hubs_pages_may_redeem(agent, hub, pki):
    running = offline_agent(agent, hub, pki)
    body = {"pin": "246810", "programme": "food", "purse": "groceries", "amount": 1000,
            "category": "rice"}
    assert call(running.url, "POST", "/offline/redeem", body, origin=FOREIGN).status == 403
    assert call(running.url, "POST", "/offline/redeem", body, origin=None).status == 403
    assert call(running.url, "GET", "/offline", origin=FOREIGN).status == 403


def test_a_terminal_without_offline_mode_has_no_offline_routes(bare):
    assert call(bare.url, "GET", "/offline").status == 404
    assert call(bare.url, "POST", "/offline/redeem", {"pin": "246810"}).status == 404
    assert "link" not in call(bare.url, "GET", "/state").body


def _pull_the_card(running: Agent, city_card) -> None:
    """The citizen takes the card out, and the daemon has seen it go."""
    city_card.card.remove()
    assert wait_until(lambda: not running.daemon.card_present(), 5)


def test_a_card_pulled_once_the_redemption_is_queued_still_gets_queued(
        city_card, agent, hub, pki, monkeypatch):
    running = offline_agent(agent, hub, pki)
    stream = running.stream()
    assert stream.next()[1]["link"]["queued"] == 0
    queue = running.offline.queue
    enqueue = queue.enqueue

    def enqueue_then_pull(*args, **kwargs):
        enqueue(*args, **kwargs)
        _pull_the_card(running, city_card)

    monkeypatch.setattr(queue, "enqueue", enqueue_then_pull)
    status, body = running.redeem(city_card.pin, 10_000)
    assert status == 200, body
    assert body["queued"] is True and body["queued_count"] == 1
    assert [i["redemption"]["key"] for i in queue.pending(50)] == [body["key"]]
    assert stream.next_of("link")[1]["queued"] == 1


def test_a_card_pulled_after_it_signed_but_before_the_queue_kept_it_queues_nothing(
        city_card, agent, hub, pki, monkeypatch):
    running = offline_agent(agent, hub, pki)
    signed = []
    sign_digest = PivSession.sign_digest

    def sign_then_pull_after_the_redemption(self, slot, digest):
        signature = sign_digest(self, slot, digest)
        signed.append(digest)
        if len(signed) == 2:  # the challenge, then the redemption
            _pull_the_card(running, city_card)
        return signature

    monkeypatch.setattr(PivSession, "sign_digest", sign_then_pull_after_the_redemption)
    assert running.redeem(city_card.pin, 10_000) == (409, {"refused": "card_removed"})
    assert len(signed) == 2
    assert running.offline.queue.queued() == 0


# --- the queue ----------------------------------------------------------------------

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
