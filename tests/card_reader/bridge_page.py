"""The page's side of the local bridge, for its tests: an EventSource as a browser
opens one (a plain socket reading the stream), http.client posting the PIN, and a kiosk
PC running the daemon with its bridge against the stub hub."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from email.message import Message
from typing import Any

from cryptography import x509

from card_reader import piv as p
from card_reader.bridge import Bridge
from card_reader.daemon import JsonLinesSink, ReaderDaemon, fan_out
from card_reader.event_feed import SESSION_FIELDS, EventFeed
from card_reader.pcsc import StatusWatcher

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


def wait_until(predicate, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def session_of(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in SESSION_FIELDS}


def card_auth_serial(issued_card) -> int:
    der = issued_card.issued.certificates[p.Slot.CARD_AUTH]
    return x509.load_der_x509_certificate(der).serial_number
