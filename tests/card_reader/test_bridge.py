"""The local bridge (card_reader/bridge.py) over real HTTP: the daemon on a private pcscd
with a virtual card, the stub hub, and the page's side played by a plain socket reading
the event stream and http.client posting the PIN, as a browser on the same PC would."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import logging
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from email.message import Message
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509

from card_reader import piv as p
from card_reader.bridge import (
    SESSION_FIELDS,
    Bridge,
    EventFeed,
    origin_of,
    parse_bind,
)
from card_reader.cli import reader_command
from card_reader.daemon import JsonLinesSink, ReaderDaemon, Refused, fan_out
from card_reader.pcsc import StatusWatcher
from tests.card_reader.stub_hub import CLIENT_ID, CLIENT_SECRET

ORIGIN = "http://127.0.0.1:8000"  # the hub's pages, as the browser names their origin
FOREIGN = "http://shop.example"


# --- the page's side --------------------------------------------------------------


class Stream:
    """An EventSource as the page opens one: every event with the time it arrived.

    `next()` reads on in order; `seen()` waits for a kind anywhere in what arrived.
    """

    def __init__(self, url: str, origin: str | None = ORIGIN) -> None:
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        request = f"GET /events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        if origin is not None:
            request += f"Origin: {origin}\r\n"
        self.sock.sendall((request + "Accept: text/event-stream\r\n\r\n").encode())
        self.file = self.sock.makefile("rb")
        self.status = int(self.file.readline().split()[1])
        self.headers: dict[str, str] = {}
        while (line := self.file.readline().rstrip(b"\r\n")):
            name, _, value = line.decode().partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.raw = bytearray()
        self.comments: list[str] = []
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._cursor = 0
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        data: list[bytes] = []
        try:
            for line in self.file:
                self.raw += line
                line = line.rstrip(b"\r\n")
                if line.startswith(b":"):
                    self.comments.append(line.decode())
                elif line.startswith(b"data: "):
                    data.append(line[len(b"data: "):])
                elif not line and data:
                    self._add(json.loads(b"\n".join(data)))
                    data = []
                elif line:
                    self._add({"event": "unexpected line", "line": line.decode()})
        except (OSError, ValueError):
            pass
        self._add({"event": "closed"})

    def _add(self, event: dict[str, Any]) -> None:
        with self._changed:
            self.events.append((time.monotonic(), event))
            self._changed.notify_all()

    def next(self, timeout: float = 10) -> tuple[float, dict[str, Any]]:
        """The next event after the last one `next` returned, and when it arrived."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.events) > self._cursor, timeout):
                raise AssertionError(f"no event in {timeout} s after {self.events}")
            self._cursor += 1
            return self.events[self._cursor - 1]

    def next_of(self, kind: str, timeout: float = 10) -> tuple[float, dict[str, Any]]:
        """Read on to the next event of `kind`."""
        deadline = time.monotonic() + timeout
        while True:
            at, event = self.next(max(0.0, deadline - time.monotonic()))
            if event["event"] == kind:
                return at, event

    def seen(self, kind: str, timeout: float = 10) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: any(e["event"] == kind for _, e in self.events), timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)


@dataclass
class Answer:
    status: int
    headers: Message
    body: Any


def call(url: str, method: str, path: str, body: Any = None, origin: str | None = ORIGIN,
         headers: dict[str, str] | None = None, raw: bytes | None = None) -> Answer:
    """One HTTP request to the bridge, as the page's fetch() would send it."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    sent = dict(headers or {})
    if origin is not None:
        sent["Origin"] = origin
    if body is not None:
        raw = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=raw, headers=sent)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return Answer(resp.status, resp.headers, json.loads(data) if data else None)


# --- the PC's side ----------------------------------------------------------------


class Kiosk:
    """The daemon and its bridge as `satukartu reader` runs them, on a free port."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.stdout = io.StringIO()
        self.feed = EventFeed()
        self.daemon = ReaderDaemon(client, sink=fan_out(JsonLinesSink(self.stdout), self.feed),
                                   watcher=StatusWatcher(poll=0.5))
        self.bridge = Bridge(self.feed, self.daemon.pin_login, [ORIGIN + "/"], port=0)
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)
        self.streams: list[Stream] = []

    @property
    def url(self) -> str:
        return self.bridge.url

    def start(self) -> Kiosk:
        self.bridge.start()
        self.thread.start()
        return self

    def stream(self, origin: str | None = ORIGIN) -> Stream:
        stream = Stream(self.url, origin)
        self.streams.append(stream)
        return stream

    def printed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.getvalue().splitlines()]

    def stop(self) -> None:
        self.daemon.stop()
        self.thread.join(10)
        self.bridge.stop()
        for stream in self.streams:
            stream.close()


@pytest.fixture
def kiosk(client, pcscd):
    running = Kiosk(client)
    yield running
    running.stop()


@pytest.fixture
def bare():
    """A bridge with no daemon behind it: its PIN login records calls and says no_card."""
    calls: list[object] = []

    def pin_login(pin):  # noqa: ANN001, ANN202
        calls.append(pin)
        raise Refused("no_card")

    bridge = Bridge(EventFeed(), pin_login, [ORIGIN], port=0).start()
    bridge.calls = calls  # type: ignore[attr-defined]
    yield bridge
    bridge.stop()


def wait_until(predicate, timeout: float = 10) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def session_of(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in SESSION_FIELDS}


def card_auth_serial(issued_card) -> int:  # noqa: ANN001
    der = issued_card.issued.certificates[p.Slot.CARD_AUTH]
    return x509.load_der_x509_certificate(der).serial_number


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

    def authenticate_card(token):  # noqa: ANN001, ANN202
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


# --- who may call ---------------------------------------------------------------------


def test_a_foreign_origin_is_refused_403(bare):
    for method, path in (("POST", "/pin"), ("GET", "/events"), ("GET", "/state"),
                         ("OPTIONS", "/pin")):
        answer = call(bare.url, method, path, {"pin": "123456"} if method == "POST" else None,
                      origin=FOREIGN)
        assert (answer.status, answer.body) == (403, {"refused": "origin_not_allowed"}), path
        assert "Access-Control-Allow-Origin" not in answer.headers
    assert Stream(bare.url, origin=FOREIGN).status == 403
    assert bare.calls == []  # the card was never asked


def test_a_pin_post_without_an_origin_is_refused_403(bare):
    answer = call(bare.url, "POST", "/pin", {"pin": "123456"}, origin=None)
    assert (answer.status, answer.body) == (403, {"refused": "origin_not_allowed"})
    assert bare.calls == []


def test_a_plain_cross_site_form_is_refused(bare):
    answer = call(bare.url, "POST", "/pin", raw=b"pin=123456", origin="null",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 403 and bare.calls == []


def test_a_name_that_is_not_loopback_in_host_is_refused(bare):
    """DNS rebinding: a hostile name resolving to 127.0.0.1 makes its page same-origin
    with the bridge, and a same-origin GET carries no Origin; the Host still says."""
    port = urllib.parse.urlsplit(bare.url).port
    answer = call(bare.url, "GET", "/state", origin=None,
                  headers={"Host": f"rebind.example:{port}"})
    assert (answer.status, answer.body) == (421, {"refused": "host_not_allowed"})


def test_the_preflight_allows_the_hub_origin_only(bare):
    answer = call(bare.url, "OPTIONS", "/pin", headers={
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Private-Network": "true"})
    assert answer.status == 204
    expected = {
        "Access-Control-Allow-Origin": ORIGIN,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": "POST, GET",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Allow-Private-Network": "true",
        "Access-Control-Max-Age": "600",
    }
    assert {name: answer.headers[name] for name in expected} == expected
    assert call(bare.url, "OPTIONS", "/events").status == 204


def test_a_malformed_pin_never_reaches_the_card(bare):
    assert call(bare.url, "POST", "/pin", {"pin": "12ab"}).body == {"refused": "pin_format"}
    assert call(bare.url, "POST", "/pin", {"pin": 123456}).status == 400
    assert call(bare.url, "POST", "/pin", raw=b"{not json").status == 400
    assert call(bare.url, "POST", "/pin", raw=b"x" * 4096).status == 413
    assert bare.calls == []
    answer = call(bare.url, "POST", "/pin", {"pin": "123456"})
    assert (answer.status, answer.body) == (409, {"refused": "no_card"})
    assert repr(bare.calls) == "[OneTimePin(<hidden>)]"


# --- where it listens -------------------------------------------------------------------


def test_the_bridge_binds_to_loopback_only():
    assert parse_bind("127.0.0.1:7468") == ("127.0.0.1", 7468)
    assert parse_bind("[::1]:7468") == ("::1", 7468)
    assert parse_bind("localhost:0") == ("localhost", 0)
    for bad in ("0.0.0.0:7468", "192.168.1.10:7468", "kiosk.example:7468", "7468", ":7468"):
        with pytest.raises(ValueError):
            parse_bind(bad)
    with pytest.raises(ValueError):
        Bridge(EventFeed(), lambda pin: None, [ORIGIN], host="0.0.0.0", port=0)  # noqa: S104


def test_origins_are_compared_as_browsers_send_them():
    assert origin_of("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert origin_of("https://Hub.Example:443/kiosk") == "https://hub.example"
    assert origin_of("http://[::1]:8000") == "http://[::1]:8000"
    with pytest.raises(ValueError):
        origin_of("hub.example")


def test_the_reader_command_refuses_a_bridge_on_a_public_address(monkeypatch):
    monkeypatch.setenv("SATUKARTU_TERMINAL_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SATUKARTU_TERMINAL_CLIENT_SECRET", CLIENT_SECRET)
    result = CliRunner().invoke(reader_command, ["--bridge", "0.0.0.0:7468"])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output
