"""The reader daemon: a card inserted becomes a hub session; a card removed ends it.

One loop over the status-change watcher. On insertion: an `inserted` event at once
(the screen says "reading your card"), a challenge from the hub (fetched while the
card is read), the card signs with 9E for a tap or with 9A after VERIFY PIN when the
PIN provider gives a PIN, the token goes to the hub, and the session goes to the sink
(the screen). On removal a `removed` event goes out first, so the screen can blank
before any network call, then the session is logged out. A card pulled mid-command is
"card gone", whatever status the reader reported.

`pin_login` is the other way in: the screen's PIN pad (through `card_reader.bridge`)
asks for a `pin` session for the card present now. It runs on another thread than
the watcher, so card access is serialised by one lock, and a card that left or was
swapped meanwhile gets no session.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Protocol, TypeVar

from card_reader import ber, piv, wire
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
T = TypeVar("T")


class LinkState(Protocol):
    """Whether the hub answers now (an agent's offline mode: card_reader.offline)."""

    @property
    def online(self) -> bool: ...


class Refused(Exception):
    """Authentication did not produce a session; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"refused": self.reason, **self.extra}


class OneTimePin:
    """A PIN that gives itself up once, to VERIFY.

    Python cannot wipe a string, but it can stop holding it: a PIN from the screen
    lives in this box until `authenticate` takes it for VERIFY, so no attribute, frame
    or later log line of the daemon still refers to it once the card has it. Its repr
    hides the value, so a traceback or a debug print shows no digits either.
    """

    __slots__ = ("_pin",)

    def __init__(self, pin: str) -> None:
        self._pin: str | None = pin

    def take(self) -> str:
        """The PIN, once; the box is empty afterwards."""
        pin, self._pin = self._pin, None
        if pin is None:
            raise RuntimeError("this PIN was used already")
        return pin

    def __repr__(self) -> str:
        return "OneTimePin(<hidden>)"


def _forget_locals(exc: BaseException) -> None:
    """Drop the local variables of the frames behind a failed PIN authentication.

    The traceback of a wrong PIN holds VERIFY's frame, whose locals hold the PIN and
    its APDU; nobody needs them, and a refusal may be kept longer than the request.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


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
    if isinstance(exc, (piv.PivError, ber.TlvError)):
        return Refused("card_error", str(exc))
    if isinstance(exc, ValueError):
        return Refused("pin_format", str(exc))
    raise exc


def authenticate(connection: Connection, hub: HubClient, pin: str | OneTimePin | None = None,
                 executor: ThreadPoolExecutor | None = None) -> wire.CardSession:
    """One card authentication; raises Refused with the reason when there is no session.

    With a PIN (a string, or a OneTimePin taken at VERIFY) the card signs with 9A,
    without one with 9E.
    """
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
            session.verify_pin(pin.take() if isinstance(pin, OneTimePin) else pin)
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


def _close(conn: PcscConnection, pin: str | OneTimePin | None) -> None:
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


def fan_out(*sinks: Sink) -> Sink:
    """One sink that hands every event to each of `sinks` in turn (stdout, the bridge)."""

    def sink(event: dict[str, Any]) -> None:
        for each in sinks:
            each(event)

    return sink


class ReaderDaemon:
    """Turns reader events into hub sessions until `stop()`.

    Events to the sink: `inserted`, then `session` or `refused`, for each card;
    `removed` when it leaves, then `session_ended` when a session was open. With a
    `link` (an agent's offline mode) that says the hub is down, a card gives
    `inserted` with `"offline": true` only: no hub call, so no `session` or `refused`.
    """

    def __init__(self, hub: HubClient, sink: Sink | None = None,
                 pin_provider: PinProvider | None = None, reader: str | None = None,
                 command_timeout: float = 2.0, watcher: StatusWatcher | None = None,
                 link: LinkState | None = None) -> None:
        self.hub = hub
        self.link = link
        self.sink = sink or JsonLinesSink()
        self.pin_provider = pin_provider or (lambda reader: None)
        self.command_timeout = command_timeout
        self.watcher = watcher or StatusWatcher(
            accept=(lambda name: name.startswith(reader)) if reader else None)
        self.sessions: dict[str, wire.CardSession] = {}
        self._cards: dict[str, int] = {}  # readers holding a card -> which insertion
        self._insertions = itertools.count(1)
        # Lock order: _card_lock, then _state. _card_lock covers a whole command sequence
        # on a card (the watcher's tap, the bridge's PIN); _state covers the two dicts and
        # the sink, so events leave in the order the state changed.
        self._card_lock = threading.Lock()
        self._state = threading.Lock()
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
            for reader in list(dict.fromkeys([*self._cards, *self.sessions])):
                self._on_remove(reader)
            self._executor.shutdown(wait=False, cancel_futures=True)
            log.info("reader daemon stopped", extra={"event": "stopped"})

    def pin_login(self, pin: OneTimePin, wait: float = 10.0) -> wire.CardSession:
        """VERIFY `pin` on the card in the reader now and sign with 9A: a `pin` session.

        For the screen's PIN pad, through the bridge. The new session replaces the
        card's tap session, which is logged out at the hub. Raises Refused: `no_card`;
        `reader_busy` when the card stayed busy for `wait` seconds; `card_removed` when
        the card left or was swapped while this ran (a session the hub opened
        meanwhile is logged out again); or whatever stopped the authentication. Every
        refusal about the card also goes to the sink as a `refused` event.
        """
        started = time.perf_counter()
        if not self._card_lock.acquire(timeout=wait):
            raise Refused("reader_busy", "another card operation is under way")
        try:
            reader, insertion = self._card_now()
            try:
                session = self._authenticate(reader, pin)
            except Refused as exc:
                _forget_locals(exc)
                log.info("PIN refused", extra={"event": "refused", "reader": reader,
                                               "reason": exc.reason})
                with self._state:
                    self._emit({"event": "refused", "reader": reader, **exc.to_dict()})
                raise
            with self._state:
                still_there = self._cards.get(reader) == insertion
                replaced = self.sessions.get(reader) if still_there else None
                if still_there:
                    self.sessions[reader] = session
                    self._emit(self._session_event(reader, session, started))
                else:
                    refusal = Refused("card_removed", "the card left during the PIN login")
                    self._emit({"event": "refused", "reader": reader, **refusal.to_dict()})
        finally:
            self._card_lock.release()
        if not still_there:
            self._logout(reader, session)
            raise refusal
        if replaced is not None:
            self._logout(reader, replaced)
        return session

    def card_present(self) -> bool:
        with self._state:
            return bool(self._cards)

    def with_card_committing(self, work: Callable[[PcscConnection, str, Callable[[], bool]], T],
                             wait: float = 10.0) -> T:
        """Run `work(connection, reader, present)` on the card in the reader now, under
        the card lock, on a fresh connection reset afterwards (a PIN was verified): for
        a `work` that ends by committing something the card did (the bridge's offline
        redemption: the card signed, the queue keeps it).

        `work` asks `present()` (the same insertion of the card is still in the reader)
        just before it commits, and refuses `card_removed` itself when not. Once `work`
        returned, it committed: its result is given out even if the card left in the
        meantime, since refusing then would make the agent redo a sale already kept.
        Raises Refused: `no_card`, `reader_busy`, or the reason of whatever stopped
        `work`; the frames behind a refusal are cleared (they held the PIN).
        """
        if not self._card_lock.acquire(timeout=wait):
            raise Refused("reader_busy", "another card operation is under way")
        try:
            reader, insertion = self._card_now()
            try:
                conn = PcscConnection(reader, self.command_timeout)
            except PcscError as exc:
                raise _refusal(exc) from exc

            def present() -> bool:
                with self._state:
                    if self._cards.get(reader) != insertion:
                        return False
                try:
                    return conn.same_card()
                except PcscError:
                    return False

            try:
                return work(conn, reader, present)
            except Exception as exc:
                _forget_locals(exc)
                raise _refusal(exc) from None
            finally:
                with contextlib.suppress(PcscError):  # a card already gone needs no reset
                    conn.close(reset=True)
        finally:
            self._card_lock.release()

    def _card_now(self) -> tuple[str, Any]:
        """The reader of the latest card in, and that insertion; `no_card` if none."""
        with self._state:
            if not self._cards:
                raise Refused("no_card", "no card in the reader")
            return next(reversed(self._cards.items()))

    def _emit(self, event: dict[str, Any]) -> None:
        """To the sink; callers hold `_state`, so the sink sees events in state order."""
        self.sink(event)

    @staticmethod
    def _session_event(reader: str, session: wire.CardSession,
                       started: float) -> dict[str, Any]:
        return {"event": "session", "reader": reader,
                "ms": round((time.perf_counter() - started) * 1000, 1), **session.to_dict()}

    def _authenticate(self, reader: str, pin: str | OneTimePin | None) -> wire.CardSession:
        """A fresh connection, one authentication, a close (a reset after a PIN)."""
        try:
            conn = PcscConnection(reader, self.command_timeout)
        except PcscError as exc:
            raise _refusal(exc) from exc
        try:
            return authenticate(conn, self.hub, pin, self._executor)
        finally:
            _close(conn, pin)

    def _on_insert(self, reader: str) -> None:
        started = time.perf_counter()
        offline = self.link is not None and not self.link.online
        with self._state:
            self._cards[reader] = next(self._insertions)
            self._emit({"event": "inserted", "reader": reader, **(
                {"offline": True} if offline else {})})
        if offline:  # the screen offers an offline redemption (POST /offline/redeem)
            return
        with self._card_lock:
            try:
                session = self._authenticate(reader, self.pin_provider(reader))
            except Refused as exc:
                log.info("card refused", extra={"event": "refused", "reader": reader,
                                                "reason": exc.reason})
                with self._state:
                    self._emit({"event": "refused", "reader": reader, **exc.to_dict()})
                return
            with self._state:
                self.sessions[reader] = session
                self._emit(self._session_event(reader, session, started))

    def _on_remove(self, reader: str) -> None:
        with self._state:
            self._cards.pop(reader, None)
            session = self.sessions.pop(reader, None)
            self._emit({"event": "removed", "reader": reader})  # before any network call
            if session is not None:
                self._emit({"event": "session_ended", "reader": reader,
                            "card_serial": session.card_serial})
        if session is not None:
            self._logout(reader, session)

    def _logout(self, reader: str, session: wire.CardSession) -> None:
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
