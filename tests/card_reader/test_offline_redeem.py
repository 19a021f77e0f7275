"""An agent's offline redemption at the shop: the card judged and signing at the daemon
while the hub is away, the caps, what the bridge answers and what the screen hears.
Real pcscd and virtual card, the stub hub over HTTP (the queue and its sync:
test_offline_sync.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from card_reader.client import PivSession
from card_reader.offline.trust import Trust
from card_reader.offline_wire import (
    OfflineProgramme,
    SignedRedemption,
)
from tests.card_reader.bridge_page import FOREIGN, call, wait_until
from tests.card_reader.offline_agent import TERMINAL, Agent, nine_a_serial, offline_agent

pytestmark = pytest.mark.pcsc


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
