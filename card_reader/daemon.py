"""The reader daemon: a card inserted becomes a hub session; a card removed ends it.

One loop over the status-change watcher. On insertion: a challenge from the hub
(fetched while the card is read), the card signs with 9E for a tap or with 9A after
VERIFY PIN when the PIN provider gives a PIN, the token goes to the hub, and the
session goes to the sink (the screen). On removal the session is logged out at once.
A card pulled mid-command is "card gone", whatever status the reader reported.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

from card_reader import piv, wire
from card_reader.client import Connection, PivSession
from card_reader.hub_client import HubClient, HubError, HubRefusal
from card_reader.pcsc import (
    CardGoneError,
    CommandTimeout,
    PcscConnection,
    PcscError,
    StatusWatcher,
    readers_with_card,
)

log = logging.getLogger(__name__)

Sink = Callable[[dict[str, Any]], None]
PinProvider = Callable[[str], str | None]  # reader name -> PIN, or None for a tap


class Refused(Exception):
    """Authentication did not produce a session; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"refused": self.reason, **self.extra}


def _refusal(exc: BaseException) -> Refused:
    """The stable reason code for whatever stopped an authentication."""
    if isinstance(exc, Refused):
        return exc
    if isinstance(exc, HubRefusal):
        return Refused(exc.reason, exc.message)
    if isinstance(exc, HubError):
        return Refused("hub_unavailable", str(exc))
    if isinstance(exc, CommandTimeout):
        return Refused("card_timeout", str(exc))
    if isinstance(exc, CardGoneError):
        return Refused("card_removed", str(exc))
    if isinstance(exc, PcscError):
        return Refused("reader_error", str(exc))
    if isinstance(exc, piv.InvalidPinError):
        return Refused("pin_invalid", str(exc), attempts_remaining=exc.attempts_remaining)
    if isinstance(exc, piv.PinBlockedError):
        return Refused("pin_blocked", str(exc))
    if isinstance(exc, piv.NotFoundError):
        return Refused("card_not_issued", str(exc))
    if isinstance(exc, (piv.PivError, piv.TlvError)):
        return Refused("card_error", str(exc))
    if isinstance(exc, ValueError):
        return Refused("pin_format", str(exc))
    raise exc


def authenticate(connection: Connection, hub: HubClient, pin: str | None = None,
                 executor: ThreadPoolExecutor | None = None) -> wire.CardSession:
    """One card authentication; raises Refused with the reason when there is no session."""
    slot = piv.Slot.AUTHENTICATION if pin is not None else piv.Slot.CARD_AUTH
    started = time.perf_counter()
    challenge: Future[wire.Challenge] | None = None
    try:
        if executor is not None:  # the HTTP round trip overlaps the card's reads
            challenge = executor.submit(hub.challenge)
        session = PivSession(connection)
        session.select()
        certificate = session.read_certificate(slot)
        if pin is not None:
            session.verify_pin(pin)
        nonce = (challenge.result() if challenge else hub.challenge()).nonce
        signature = session.sign_digest(slot, wire.signed_digest(hub.origin, nonce))
        token = wire.CardToken(certificate, signature, f"{slot:02X}", nonce)
        result = hub.authenticate_card(token)
    except Exception as exc:
        if challenge is not None:
            challenge.cancel()
        raise _refusal(exc) from exc
    log.info("card authenticated", extra={
        "event": "authenticated", "key_ref": f"{slot:02X}", "card_serial": result.card_serial,
        "ms": round((time.perf_counter() - started) * 1000, 1)})
    return result


def _close(conn: PcscConnection, pin: str | None) -> None:
    """Disconnect; after a PIN, reset the card so no later program inherits the login."""
    with contextlib.suppress(PcscError):  # a card already gone needs no reset
        conn.close(reset=pin is not None)


class JsonLinesSink:
    """Writes each event as one JSON line (the screen's feed until the UI exists)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: dict[str, Any]) -> None:
        self.stream.write(json.dumps(event, sort_keys=True) + "\n")
        self.stream.flush()


class ReaderDaemon:
    """Turns reader events into hub sessions until `stop()`."""

    def __init__(self, hub: HubClient, sink: Sink | None = None,
                 pin_provider: PinProvider | None = None, reader: str | None = None,
                 command_timeout: float = 2.0, watcher: StatusWatcher | None = None) -> None:
        self.hub = hub
        self.sink = sink or JsonLinesSink()
        self.pin_provider = pin_provider or (lambda reader: None)
        self.command_timeout = command_timeout
        self.watcher = watcher or StatusWatcher(
            accept=(lambda name: name.startswith(reader)) if reader else None)
        self.sessions: dict[str, wire.CardSession] = {}
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hub")

    def stop(self) -> None:
        self.watcher.stop()

    def run(self) -> None:
        log.info("reader daemon started", extra={"event": "started", "hub": self.hub.base_url})
        try:
            for event in self.watcher.events():
                log.info("reader event", extra={"event": event.kind, "reader": event.reader})
                if event.kind == "inserted":
                    self._on_insert(event.reader)
                elif event.kind == "removed":
                    self._on_remove(event.reader)
        finally:
            for reader in list(self.sessions):
                self._on_remove(reader)
            self._executor.shutdown(wait=False, cancel_futures=True)
            log.info("reader daemon stopped", extra={"event": "stopped"})

    def _on_insert(self, reader: str) -> None:
        started = time.perf_counter()
        try:
            pin = self.pin_provider(reader)
            conn = PcscConnection(reader, self.command_timeout)
            try:
                session = authenticate(conn, self.hub, pin, self._executor)
            finally:
                _close(conn, pin)
        except Refused as exc:
            log.info("card refused", extra={"event": "refused", "reader": reader,
                                            "reason": exc.reason})
            self.sink({"event": "refused", "reader": reader, **exc.to_dict()})
            return
        except PcscError as exc:
            refusal = _refusal(exc)
            self.sink({"event": "refused", "reader": reader, **refusal.to_dict()})
            return
        self.sessions[reader] = session
        self.sink({"event": "session", "reader": reader,
                   "ms": round((time.perf_counter() - started) * 1000, 1), **session.to_dict()})

    def _on_remove(self, reader: str) -> None:
        session = self.sessions.pop(reader, None)
        if session is None:
            return
        self.sink({"event": "session_ended", "reader": reader,
                   "card_serial": session.card_serial})
        try:
            self.hub.logout(session.session_token)
        except HubError as exc:  # the session also expires on its own; say so and go on
            log.warning("logout failed", extra={"event": "logout_failed", "reader": reader,
                                                "error": str(exc)})


def run_once(hub: HubClient, reader: str | None = None, pin: str | None = None,
             out: IO[str] | None = None, command_timeout: float = 2.0) -> int:
    """One authentication with the card now in the reader; 0 only when a session results."""
    out = out or sys.stdout
    try:
        candidates = [r for r in readers_with_card() if reader is None or r.startswith(reader)]
        if not candidates:
            raise Refused("no_card", "no card in " + (reader or "any reader"))
        conn = PcscConnection(candidates[0], command_timeout)
        try:
            session = authenticate(conn, hub, pin)
        finally:
            _close(conn, pin)
    except Exception as exc:  # every failure becomes a reason code on stdout
        refusal = _refusal(exc)
        out.write(json.dumps(refusal.to_dict(), sort_keys=True) + "\n")
        return 1
    out.write(json.dumps(session.to_dict(), sort_keys=True) + "\n")
    return 0
