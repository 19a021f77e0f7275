"""The local bridge (card_reader/bridge.py) over real HTTP, what it tells the page and
how it takes the PIN: the daemon on a private pcscd with a virtual card and the stub
hub; the page's side is `bridge_page.py`."""

from __future__ import annotations

import logging
import time

import pytest

from card_reader.event_feed import SESSION_FIELDS, EventFeed
from tests.card_reader.bridge_page import (
    ORIGIN,
    Stream,
    call,
    card_auth_serial,
    session_of,
    wait_until,
)

# --- the event stream --------------------------------------------------------------


@pytest.mark.pcsc
def test_a_new_stream_starts_with_the_current_state(issued_card, kiosk):
    issued_card.card.remove()
    kiosk.start()
    stream = kiosk.stream()
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-store"
    assert stream.headers["access-control-allow-origin"] == ORIGIN
    empty = {"event": "state", "card": False, "reader": None, "session": None}
    assert stream.next()[1] == empty
    assert call(kiosk.url, "GET", "/state").body == empty

    issued_card.card.insert()
    _, session = stream.next_of("session")
    state = {"event": "state", "card": True, "reader": issued_card.reader,
             "session": session_of(session)}
    assert kiosk.stream().next()[1] == state
    assert call(kiosk.url, "GET", "/state", origin=None).body == state  # a local tool


@pytest.mark.pcsc
def test_inserting_a_card_sends_inserted_then_its_tap_session(issued_card, kiosk):
    issued_card.card.remove()
    stream = kiosk.start().stream()
    assert stream.next()[1]["card"] is False
    issued_card.card.insert()
    assert stream.next()[1] == {"event": "inserted", "reader": issued_card.reader}
    _, session = stream.next()
    assert session["event"] == "session" and session["reader"] == issued_card.reader
    assert session["assurance"] == "tap" and set(SESSION_FIELDS) <= set(session)
    assert [e["event"] for e in kiosk.printed()] == ["inserted", "session"]  # stdout too


@pytest.mark.pcsc
def test_removed_reaches_the_page_before_the_logout_and_within_a_second(
        issued_card, kiosk, hub, monkeypatch, record_property):
    stream = kiosk.start().stream()
    _, tap = stream.next_of("session")
    page_had_removed: list[bool] = []
    real_logout = kiosk.client.logout

    def logout(session_token: str) -> None:
        # The daemon waits here until the page has `removed`: had it sent the event
        # only after the logout, the page could not get it while we wait.
        page_had_removed.append(stream.seen("removed", timeout=5))
        real_logout(session_token)

    monkeypatch.setattr(kiosk.client, "logout", logout)
    pulled = time.monotonic()
    issued_card.card.remove()  # returns once pcscd reports the reader empty
    gone = time.monotonic()
    at, removed = stream.next_of("removed")
    assert removed == {"event": "removed", "reader": issued_card.reader}
    assert wait_until(lambda: tap["session_token"] in hub.logouts)
    assert page_had_removed == [True]
    record_property("removed_after_pcscd_ms", round((at - gone) * 1000, 1))
    record_property("removed_after_pull_ms", round((at - pulled) * 1000, 1))
    assert at - gone <= 1.0
    assert call(kiosk.url, "GET", "/state").body["card"] is False


def test_a_keepalive_comment_comes_when_nothing_happens(bare):
    bare.keepalive = 0.2
    stream = Stream(bare.url)
    assert stream.next()[1]["event"] == "state"
    assert wait_until(lambda: ": keepalive" in stream.comments, 3)
    stream.close()


def test_stop_ends_the_streams(bare):
    stream = Stream(bare.url)
    stream.next()
    bare.stop()
    assert stream.next(5)[1] == {"event": "closed"}
    stream.close()


def test_a_stream_that_falls_behind_is_dropped():
    feed = EventFeed(queue_size=4)
    slow = feed.subscribe()
    assert slow is not None and feed.subscribers == 1
    for n in range(10):  # nobody reads: the queue fills up
        feed.publish({"event": "refused", "reader": "r", "refused": f"x{n}"})
    assert slow.closed and feed.subscribers == 0
    fresh = feed.subscribe()  # the page reconnects and starts from the state
    assert fresh is not None and b'"event": "state"' in (fresh.get(1) or b"")


def test_only_the_protocol_events_reach_the_page():
    feed = EventFeed()
    stream = feed.subscribe()
    assert stream is not None
    stream.get(1)  # the state
    feed.publish({"event": "session_ended", "reader": "r", "card_serial": "1"})
    feed.publish({"event": "removed", "reader": "r"})
    assert stream.get(1) == b'data: {"event": "removed", "reader": "r"}\n\n'


# --- the PIN -------------------------------------------------------------------------


@pytest.mark.pcsc
def test_the_right_pin_gives_a_pin_session_and_ends_the_tap_session(issued_card, kiosk, hub):
    stream = kiosk.start().stream()
    _, tap = stream.next_of("session")
    answer = call(kiosk.url, "POST", "/pin", {"pin": issued_card.pin})
    assert answer.status == 200, answer.body
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert answer.headers["Cache-Control"] == "no-store"
    session = answer.body
    assert set(session) == set(SESSION_FIELDS) and session["assurance"] == "pin"
    assert hub.sessions[session["session_token"]] == "9A"  # signed with PIV Authentication
    assert hub.logouts == [tap["session_token"]]
    _, event = stream.next_of("session")
    assert session_of(event) == session and event["reader"] == issued_card.reader
    assert call(kiosk.url, "GET", "/state").body["session"] == session

    issued_card.card.remove()  # and the PIN session ends with the card
    stream.next_of("removed")
    assert wait_until(lambda: session["session_token"] in hub.logouts)


@pytest.mark.pcsc
def test_a_wrong_pin_is_pin_invalid_with_the_attempts_left(issued_card, kiosk, hub):
    stream = kiosk.start().stream()
    _, tap = stream.next_of("session")
    answer = call(kiosk.url, "POST", "/pin", {"pin": "999999"})
    assert (answer.status, answer.body) == (403, {"refused": "pin_invalid",
                                                  "attempts_remaining": 2})
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    _, refused = stream.next()
    assert refused == {"event": "refused", "reader": issued_card.reader,
                       "refused": "pin_invalid", "attempts_remaining": 2}
    assert hub.logouts == []  # the tap session stays
    assert call(kiosk.url, "GET", "/state").body["session"] == session_of(tap)


@pytest.mark.pcsc
def test_a_pin_with_no_card_in_the_reader_is_409_no_card(kiosk):
    kiosk.start()
    answer = call(kiosk.url, "POST", "/pin", {"pin": "123456"})
    assert (answer.status, answer.body) == (409, {"refused": "no_card"})


@pytest.mark.pcsc
def test_a_tap_locked_card_is_refused_and_then_opened_with_its_pin(issued_card, kiosk, hub):
    issued_card.card.remove()
    hub.tap_locked.add(card_auth_serial(issued_card))
    stream = kiosk.start().stream()
    issued_card.card.insert()
    assert stream.next_of("inserted")[1]["reader"] == issued_card.reader
    _, refused = stream.next()
    assert refused == {"event": "refused", "reader": issued_card.reader,
                       "refused": "tap_locked"}
    state = call(kiosk.url, "GET", "/state").body
    assert (state["card"], state["session"]) == (True, None)
    answer = call(kiosk.url, "POST", "/pin", {"pin": issued_card.pin})
    assert answer.status == 200 and answer.body["assurance"] == "pin"
    assert stream.next_of("session")[1]["assurance"] == "pin"


@pytest.mark.pcsc
def test_a_pin_login_for_a_card_that_left_meanwhile_opens_nothing(
        issued_card, kiosk, hub, monkeypatch):
    stream = kiosk.start().stream()
    _, tap = stream.next_of("session")
    real = kiosk.client.authenticate_card

    def authenticate_card(token):
        session = real(token)  # the hub said yes...
        if token.key_ref == "9A":  # ...but the citizen took the card meanwhile
            issued_card.card.remove()
            assert stream.seen("removed")
        return session

    monkeypatch.setattr(kiosk.client, "authenticate_card", authenticate_card)
    answer = call(kiosk.url, "POST", "/pin", {"pin": issued_card.pin})
    assert (answer.status, answer.body) == (409, {"refused": "card_removed"})
    pin_tokens = [t for t, key in hub.sessions.items() if key == "9A"]
    assert len(pin_tokens) == 1
    assert set(hub.logouts) == {tap["session_token"], pin_tokens[0]}
    assert kiosk.daemon.sessions == {}
    assert stream.next_of("refused")[1]["refused"] == "card_removed"
    assert call(kiosk.url, "GET", "/state").body["card"] is False


@pytest.mark.pcsc
def test_the_pin_never_reaches_the_logs(issued_card, kiosk, hub, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="card_reader")
    reader_logger = logging.getLogger("card_reader")
    reader_logger.addHandler(caplog.handler)  # also when `configure_logging` cut propagation
    wrong = "135799"
    try:
        stream = kiosk.start().stream()
        stream.next_of("session")
        assert call(kiosk.url, "POST", "/pin", {"pin": wrong}).status == 403
        assert call(kiosk.url, "POST", "/pin", {"pin": issued_card.pin}).status == 200
        stream.next_of("session")
    finally:
        reader_logger.removeHandler(caplog.handler)
    logged = caplog.text + "".join(repr(vars(r)) for r in caplog.records)
    assert any(r.name == "card_reader.bridge" for r in caplog.records)  # it did log
    assert any(getattr(r, "reason", None) == "pin_invalid" for r in caplog.records)
    for pin in (issued_card.pin, wrong):
        assert pin not in logged
        assert pin not in kiosk.stdout.getvalue()
        assert pin not in stream.raw.decode()
