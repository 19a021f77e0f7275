"""The local bridge between the screen's web page and the reader daemon on the same PC.

Why it exists: a kiosk's or agent's page is served by the hub, but the card is in this
PC's reader. The page must learn at once that a card came or went (a screen showing a
person's data blanks the moment the card leaves), and the citizen's PIN must reach the
card's VERIFY on this PC without ever passing through the hub. So the daemon serves a
small HTTP endpoint on loopback, with the standard library only (no Flask here).

The protocol, as the page's script uses it (names are stable):

- `GET /events`: Server-Sent Events, `text/event-stream`, `Cache-Control: no-store`.
  Every event is `data: <one JSON object>` and a blank line, with no `event:` field,
  so `EventSource.onmessage` gets them all. First the current state,
  `{"event": "state", "card": bool, "reader": NAME|null, "session": SESSION|null}`,
  then live: `{"event": "inserted", "reader"}` as the card goes in (before it is
  read); `{"event": "session", "reader", "ms", ...SESSION}` once the hub opened a
  session (a tap, or a PIN login); `{"event": "refused", "reader", "refused": REASON,
  ...}` when it did not (e.g. `tap_locked`: ask for the PIN); `{"event": "removed",
  "reader"}` the moment the card leaves, before the daemon logs its session out at the
  hub. SESSION is `session_token, assurance, card_serial, citizen_ref, expires_at`.
  A comment line `: keepalive` every 15 s keeps proxies and the browser patient.
- `GET /state`: the `state` object above, as JSON.
- `POST /pin` with `{"pin": "123456"}`: VERIFY on the card now in the reader and a
  signature with key 9A; 200 and the SESSION (assurance `pin`, also sent as a
  `session` event; the tap session is logged out), or an error status and
  `{"refused": REASON, ...}` (`no_card` 409, `card_removed` 409, `pin_format` 400,
  `pin_invalid` 403 with `attempts_remaining`, `pin_blocked` 403, `hub_unavailable`
  503, ...). The PIN is never logged, kept or echoed.
- `POST /unblock` with `{"puk": "12345678", "new_pin": "123456"}` (a counter's PIN
  unblock, after the clerk vouched at the hub): RESET RETRY COUNTER on the card now
  in the reader; 200 `{"unblocked": true}`, or `{"refused": REASON, ...}` (`no_card`
  409, `pin_format` 400 for a PUK or new PIN of the wrong shape, `puk_invalid` 403
  with `attempts_remaining`, `puk_blocked` 403, `card_removed` 409, `reader_error`
  503). Like the PIN, the PUK and the new PIN go to the card only.
- An agent terminal's offline mode (card_reader/offline; other terminals answer
  these two 404 `not_found`, and their state has no `link`):
  - `GET /state` and the `state` event also carry `"link": {"online": bool, "queued":
    int, "syncing": bool, "offline_ready": bool}` (offline_ready: a bundle is held and
    its CRL is within nextUpdate plus the city's grace), and the stream gets `{"event":
    "link", "online", "queued", "syncing", "offline_ready"}` whenever any of these
    changes (each probe that flips the link, each redemption queued, each batch sent).
  - While the link is down, a card gives `{"event": "inserted", "reader", "offline":
    true}` and nothing else: no hub call, so no `session` or `refused` follows.
  - `GET /offline` (as `GET /state`): `{"online", "queued", "syncing", "offline_ready",
    "programmes": [OfflineProgramme], "agent_spent_today": int, "card": bool}`.
  - `POST /offline/redeem` with `{"pin": "123456", "programme": "food", "purse":
    "groceries", "amount": 25000, "category": "rice" | null}`: the card proves itself
    and signs the redemption, which is queued for the hub; 200 `{"queued": true,
    "key", "counter", "amount", "programme", "purse", "redeemed_at", "queued_count",
    "card_left_today"}`, or `{"refused": REASON, ...}`: `no_card` 409, `card_removed`
    409, `pin_format` 400, `request_malformed` 400, `pin_invalid` 403 (with
    `attempts_remaining`), `pin_blocked` 403, `link_online` 409 (the hub answers:
    redeem online), `offline_not_ready` 503, `offline_not_allowed` 400,
    `amount_invalid` 400, `amount_above_cap` 409 (with `cap`),
    `offline_card_cap_exceeded` and `offline_agent_cap_exceeded` 409 (with `cap` and
    `spent`), `card_untrusted`, `card_revoked`, `card_expired`, `signature_invalid`
    403, `reader_busy`, `reader_error`, `card_timeout` 503. The PIN is never logged,
    kept or echoed.
- `OPTIONS` on any of these: the CORS preflight, Private Network Access included.

Who may call: a request whose `Origin` is one of `allowed_origins` (the hub's pages)
gets `Access-Control-Allow-Origin` for that origin; any other `Origin` is refused 403
`{"refused": "origin_not_allowed"}`, so another web page, or a plain cross-site form,
cannot drive the card or read the sessions. Without an `Origin` only the GETs are
answered, and only to loopback clients (tools, tests). The `Host` header must name a
loopback address, which stops DNS rebinding (a hostile name resolving to 127.0.0.1
would make the hostile page same-origin with the bridge, so the browser would send no
`Origin` at all). The server binds to loopback only.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import socketserver
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast

from card_reader import piv, wire
from card_reader.bridge_access import is_loopback_host, origin_of
from card_reader.daemon import OneTimePin, Refused
from card_reader.event_feed import EventFeed
from card_reader.reader_unblock import ReaderUnblock

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7468
KEEPALIVE_SECONDS = 15.0
MAX_BODY_BYTES = 1024
WRITE_TIMEOUT = 10.0  # a stream that cannot take a few bytes for this long is dead
POLL_SECONDS = 1.0  # how often an idle stream checks that its client is still there

PATHS = ("/events", "/state", "/pin", "/unblock", "/offline", "/offline/redeem")

# The HTTP status of a refused PIN login; anything not listed is a refusal by the hub.
PIN_STATUS = {
    "no_card": 409,
    "card_removed": 409,
    "card_not_issued": 409,
    "pin_format": 400,
    "pin_invalid": 403,
    "pin_blocked": 403,
    "reader_busy": 503,
    "reader_error": 503,
    "card_timeout": 503,
    "hub_unavailable": 503,
}

# The HTTP status of a refused unblock (see `ReaderUnblock`).
UNBLOCK_STATUS = {"no_card": 409, "card_removed": 409, "pin_format": 400,
                  "puk_invalid": 403, "puk_blocked": 403, "card_not_issued": 409}

# The HTTP status of a refused offline redemption (see card_reader/offline/redeem.py).
OFFLINE_STATUS = {
    "no_card": 409,
    "card_removed": 409,
    "card_not_issued": 409,
    "pin_format": 400,
    "request_malformed": 400,
    "pin_invalid": 403,
    "pin_blocked": 403,
    "link_online": 409,
    "offline_not_ready": 503,
    "offline_not_allowed": 400,
    "amount_invalid": 400,
    "amount_above_cap": 409,
    "offline_card_cap_exceeded": 409,
    "offline_agent_cap_exceeded": 409,
    "card_untrusted": 403,
    "card_revoked": 403,
    "card_expired": 403,
    "signature_invalid": 403,
    "reader_busy": 503,
    "reader_error": 503,
    "card_timeout": 503,
}


class OfflineDesk(Protocol):
    """An agent's offline mode as the bridge uses it (card_reader.offline.mode)."""

    def status(self) -> dict[str, Any]: ...

    def overview(self) -> dict[str, Any]: ...

    def redeem(self, pin: OneTimePin, request: dict[str, Any]) -> dict[str, Any]: ...


PinLogin = Callable[[OneTimePin], wire.CardSession]
PinUnblock = Callable[[OneTimePin, OneTimePin], None]  # (PUK, new PIN)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    bridge: Bridge

    def __init__(self, host: str, port: int, bridge: Bridge) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.bridge = bridge
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the host's FQDN up; nothing here needs it.
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        self.server_name = cast(str, host)  # an AF_INET or AF_INET6 address: text


class _Handler(BaseHTTPRequestHandler):
    """One request; the rules are in the module docstring."""

    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection; a stream ends at close
    server_version = "SatuKartuBridge/1"
    sys_version = ""
    disable_nagle_algorithm = True  # a `removed` event must not wait for an ACK
    timeout = WRITE_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        # The request line and status only; bodies (the PIN) are never logged.
        log.debug("bridge request", extra={"event": "bridge_request", "line": format % args})

    # --- who is asking --------------------------------------------------------

    def _host_ok(self) -> bool:
        host = self.headers.get("Host", "")
        name = urllib.parse.urlsplit("//" + host).hostname or ""
        return is_loopback_host(name)

    def _from_loopback(self) -> bool:
        return is_loopback_host(str(self.client_address[0]))

    def _origin(self, allow_missing: bool) -> tuple[bool, str | None]:
        """(allowed, the origin to echo in CORS headers)."""
        origins = self.headers.get_all("Origin") or []
        if len(origins) > 1:
            return False, None
        if not origins:
            return allow_missing and self._from_loopback(), None
        origin = origins[0].strip()
        return origin in self.server.bridge.allowed_origins, origin

    def _admit(self, allow_missing_origin: bool) -> tuple[bool, str | None]:
        """Check Host and Origin; answers the refusal itself when it says no."""
        if not self._host_ok():
            self._reply(421, {"refused": "host_not_allowed"})
            return False, None
        allowed, origin = self._origin(allow_missing_origin)
        if not allowed:
            self._reply(403, {"refused": "origin_not_allowed"})
            return False, None
        return True, origin

    # --- answers --------------------------------------------------------------

    def _common_headers(self, origin: str | None) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Vary", "Origin")
        if origin is not None:
            self.send_header("Access-Control-Allow-Origin", origin)

    def _reply(self, status: int, body: dict[str, Any] | None,
               origin: str | None = None) -> None:
        raw = json.dumps(body, sort_keys=True).encode() if body is not None else b""
        self.send_response(status)
        self._common_headers(origin)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if raw:
            self.wfile.write(raw)

    def _path(self) -> str:
        return urllib.parse.urlsplit(self.path).path

    # --- methods --------------------------------------------------------------

    def do_OPTIONS(self) -> None:  # http.server's naming
        if self._path() not in PATHS:
            return self._reply(404, {"refused": "not_found"})
        admitted, origin = self._admit(allow_missing_origin=False)
        if not admitted:
            return None
        self.send_response(204)
        self._common_headers(origin)
        self.send_header("Access-Control-Allow-Methods", "POST, GET")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def do_GET(self) -> None:
        path = self._path()
        offline = self.server.bridge.offline
        if path not in ("/events", "/state") and not (path == "/offline" and offline):
            return self._reply(404, {"refused": "not_found"})
        admitted, origin = self._admit(allow_missing_origin=True)
        if not admitted:
            return None
        if path == "/state":
            return self._reply(200, self.server.bridge.feed.state(), origin)
        if path == "/offline":
            assert offline is not None
            return self._reply(200, offline.overview(), origin)
        return self._stream(origin)

    def do_POST(self) -> None:
        path = self._path()
        if path not in ("/pin", "/unblock") and not (
                path == "/offline/redeem" and self.server.bridge.offline):
            return self._reply(404, {"refused": "not_found"})
        admitted, origin = self._admit(allow_missing_origin=False)
        if not admitted:
            return None
        if path == "/pin":
            status, body = self._pin_login()
        elif path == "/unblock":
            status, body = self._unblock()
        else:
            status, body = self._offline_redeem()
        return self._reply(status, body, origin)

    # --- PIN ------------------------------------------------------------------

    def _pin_body(self) -> tuple[OneTimePin, dict[str, Any]] | tuple[int, dict[str, Any]]:
        """A JSON body with a well-formed `pin`: the PIN boxed at once and the rest, or
        the refusal to answer (status, body)."""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return 411, {"refused": "request_malformed"}
        if not 0 <= length <= MAX_BODY_BYTES:
            return 413, {"refused": "request_too_large"}
        try:
            data = json.loads(self.rfile.read(length))
        except (ValueError, OSError):
            return 400, {"refused": "request_malformed"}
        if not isinstance(data, dict) or not isinstance(data.get("pin"), str):
            return 400, {"refused": "request_malformed"}
        if not piv.pin_is_valid(data["pin"]):
            return 400, {"refused": "pin_format"}
        return OneTimePin(data.pop("pin")), data

    def _pin_login(self) -> tuple[int, dict[str, Any]]:
        """Read `{"pin": ...}`, box the PIN at once and hand it to the daemon."""
        read = self._pin_body()
        if not isinstance(read[0], OneTimePin):
            return read
        pin, data = read
        del data  # from here only the box holds the PIN, until VERIFY takes it
        try:
            session = self.server.bridge.pin_login(pin)
        except Refused as exc:
            return PIN_STATUS.get(exc.reason, 403), exc.to_dict()
        except Exception:  # a bug: say so without a traceback's locals in the answer
            log.exception("PIN login failed", extra={"event": "bridge_error"})
            return 500, {"refused": "internal_error"}
        finally:
            del pin
        return 200, session.to_dict()

    def _offline_redeem(self) -> tuple[int, dict[str, Any]]:
        """Read `{"pin", "programme", "purse", "amount", "category"}`, box the PIN at
        once, and have the card sign a queued redemption."""
        read = self._pin_body()
        if not isinstance(read[0], OneTimePin):
            return read
        pin, data = read
        offline = self.server.bridge.offline
        assert offline is not None  # do_POST routes here only then
        try:
            return 200, offline.redeem(pin, data)
        except Refused as exc:
            return OFFLINE_STATUS.get(exc.reason, 403), exc.to_dict()
        except Exception:  # a bug: say so without a traceback's locals in the answer
            log.exception("offline redemption failed", extra={"event": "bridge_error"})
            return 500, {"refused": "internal_error"}
        finally:
            del pin, data

    def _unblock(self) -> tuple[int, dict[str, Any]]:
        """Read `{"puk", "new_pin"}`, box both at once, and reset the card's PIN."""
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return 400, {"refused": "request_malformed"}
        try:
            data = json.loads(self.rfile.read(int(length)))
        except (ValueError, OSError):
            return 400, {"refused": "request_malformed"}
        if not isinstance(data, dict) or not all(
                isinstance(data.get(k), str) for k in ("puk", "new_pin")):
            return 400, {"refused": "request_malformed"}
        if not (piv.pin_is_valid(data["new_pin"]) and piv.pin_is_valid(data["puk"])):
            return 400, {"refused": "pin_format"}
        puk, new_pin = OneTimePin(data.pop("puk")), OneTimePin(data.pop("new_pin"))
        del data
        try:
            self.server.bridge.pin_unblock(puk, new_pin)
        except Refused as exc:
            return UNBLOCK_STATUS.get(exc.reason, 503), exc.to_dict()
        except Exception:  # a bug: say so without a traceback's locals in the answer
            log.exception("PIN unblock failed", extra={"event": "bridge_error"})
            return 500, {"refused": "internal_error"}
        finally:
            del puk, new_pin
        return 200, {"unblocked": True}

    # --- events ---------------------------------------------------------------

    def _stream(self, origin: str | None) -> None:
        bridge = self.server.bridge
        subscriber = bridge.feed.subscribe()
        if subscriber is None:
            return self._reply(503, {"refused": "too_many_streams"}, origin)
        try:
            self.send_response(200)
            self._common_headers(origin)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.end_headers()
            last_write = time.monotonic()
            while True:
                idle = time.monotonic() - last_write
                frame = subscriber.get(max(0.0, min(POLL_SECONDS, bridge.keepalive - idle)))
                if subscriber.closed:
                    break
                if frame is None:
                    if self._client_gone():
                        break
                    if time.monotonic() - last_write < bridge.keepalive:
                        continue
                    frame = b": keepalive\n\n"
                self.wfile.write(frame)
                last_write = time.monotonic()
        except OSError:  # the page went away (or stopped reading): nothing to tell it
            pass
        finally:
            bridge.feed.unsubscribe(subscriber)
        return None

    def _client_gone(self) -> bool:
        """A closed stream shows as readable with nothing to read."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


class Bridge:
    """The bridge's HTTP server on a loopback address, serving one EventFeed.

    `pin_login` is the daemon's (`ReaderDaemon.pin_login`); `offline`, an agent's
    offline mode (`card_reader.offline.mode.OfflineMode`). Port 0 picks a free port
    (see `port` and `url`). Threads are daemon threads; `stop()` ends every stream
    and closes the socket.
    """

    def __init__(self, feed: EventFeed, pin_login: PinLogin, allowed_origins: Iterable[str],
                 host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 keepalive: float = KEEPALIVE_SECONDS,
                 pin_unblock: PinUnblock | None = None,
                 offline: OfflineDesk | None = None) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"{host} is not a loopback address")
        self.feed = feed
        self.pin_login = pin_login
        self.pin_unblock = pin_unblock or ReaderUnblock(feed)
        self.offline = offline
        self.allowed_origins = frozenset(origin_of(o) for o in allowed_origins)
        self.keepalive = keepalive
        self._server = _Server(host, port, self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self) -> Bridge:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="reader-bridge", daemon=True)
        self._thread.start()
        log.info("reader bridge listening", extra={
            "event": "bridge_started", "url": self.url,
            "origins": sorted(self.allowed_origins)})
        return self

    def stop(self) -> None:
        self.feed.close()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
